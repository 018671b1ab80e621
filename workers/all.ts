// The whole fleet in one process (npm start): every worker, the scheduler, the HTTP server
// and the database monitor.
import { allJobs } from '../jobs/index.ts';
import { main } from './fleet.ts';
import { httpPlugins } from './http/plugins.ts';

await main({ run: allJobs, scheduler: true, migrate: true, httpPlugins, monitor: true });
