import { runOne } from './one.ts';

await runOne('inventory-import');
