// The admin process of a split fleet (one service per queue, as in docker-compose.yml): the
// HTTP server (admin API, /metrics, /healthz), the scheduler and the database monitor, and
// no workers. Run exactly one per fleet: the monitor's numbers are per fleet, not per process.
import { main } from './fleet.ts';
import { httpPlugins } from './http/plugins.ts';

await main({ run: [], scheduler: true, migrate: false, httpPlugins, monitor: true });
