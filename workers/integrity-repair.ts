import { runOne } from './one.ts';

await runOne('integrity-repair');
