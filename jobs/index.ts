import type { AnyJob } from '../shared/job.ts';
import mvRefresh from './mv-refresh/index.ts';
import kicksdbSync from './kicksdb-sync/index.ts';
import stockAlerts from './stock-alerts/index.ts';
import integrityRepair from './integrity-repair/index.ts';

/** Every job of the fleet. A job is added here and nowhere else. */
export const allJobs: readonly AnyJob[] = [
  mvRefresh as AnyJob,
  kicksdbSync as AnyJob,
  stockAlerts as AnyJob,
  integrityRepair as AnyJob,
];

export function jobByName(name: string): AnyJob | undefined {
  return allJobs.find((j) => j.name === name);
}
