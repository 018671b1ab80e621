import { runOne } from './one.ts';

await runOne('image-migration');
