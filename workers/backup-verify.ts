import { runOne } from './one.ts';

await runOne('backup-verify');
