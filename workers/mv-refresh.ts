import { runOne } from './one.ts';

await runOne('mv-refresh');
