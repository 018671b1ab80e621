import { runOne } from './one.ts';

await runOne('kicksdb-sync');
