import type { Bench } from './lib.ts';

/** Every benchmark by name (`npm run bench -- <name>`); one line each. */
export const benches: Record<string, () => Promise<{ default: Bench }>> = {
  queue: () => import('./queue.ts'),
  monitor: () => import('./monitor.ts'),
  kicksdb: () => import('./kicksdb.ts'),
  maintenance: () => import('./maintenance.ts'),
  backup: () => import('./backup.ts'),
  images: () => import('./images.ts'),
  import: () => import('./import.ts'),
};
