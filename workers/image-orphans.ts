import { runOne } from './one.ts';

await runOne('image-orphans');
