import { runOne } from './one.ts';

await runOne('stock-alerts');
