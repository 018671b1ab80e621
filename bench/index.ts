import type { Bench } from './lib.ts';

/** Every benchmark by name (`npm run bench -- <name>`); one line each. */
export const benches: Record<string, () => Promise<{ default: Bench }>> = {
  queue: () => import('./queue.ts'),
  import: () => import('./import.ts'),
};
