import type { AnyJob } from '../shared/job.ts';
import { resolveSchedules, type ScheduleEntry, type ScheduleSettings } from './schedules/config.ts';
import { reconcileSchedules, type ReconcileReport } from './schedules/reconcile.ts';

// Schedules run as BullMQ job schedulers (see docs/schedules.md for why not node-cron):
// config.ts resolves and validates them, reconcile.ts applies them from one leader,
// status.ts reports next and last runs.

export type { ScheduleEntry, ScheduleSettings, ReconcileReport };
export { resolveSchedules, reconcileSchedules };

/** The jobs' default schedules alone, payloads validated, in UTC (no overrides). */
export function schedulesOf(jobs: readonly AnyJob[]): ScheduleEntry[] {
  return resolveSchedules(jobs, { scheduleTimezone: 'UTC', schedulesFile: undefined, scheduleOverrides: {} }).entries;
}
