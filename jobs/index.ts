import type { AnyJob } from '../shared/job.ts';
import mvRefresh from './mv-refresh/index.ts';
import kicksdbSync from './kicksdb-sync/index.ts';

/** Every job of the fleet. A job is added here and nowhere else. */
export const allJobs: readonly AnyJob[] = [
  mvRefresh as AnyJob,
  kicksdbSync as AnyJob,
];

export function jobByName(name: string): AnyJob | undefined {
  return allJobs.find((j) => j.name === name);
}
