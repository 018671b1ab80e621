import type { AnyJob } from '../shared/job.ts';
import mvRefresh from './mv-refresh/index.ts';
import inventoryImport from './inventory-import/index.ts';

/** Every job of the fleet. A job is added here and nowhere else. */
export const allJobs: readonly AnyJob[] = [
  mvRefresh as AnyJob,
  inventoryImport as AnyJob,
];

export function jobByName(name: string): AnyJob | undefined {
  return allJobs.find((j) => j.name === name);
}
