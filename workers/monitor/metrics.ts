import { counter, gauge } from '../../shared/metrics.ts';

// The database monitor's metrics. Their names are an interface: dashboards/prometheus/rules.yml
// and dashboards/grafana/dashboards/*.json query them (tests/observability checks that).
// Thresholds in the help texts are the runbook's (SPEC §9, seed 001 "Alert Thresholds").

/** pg_stat_activity states as bounded label values; anything new lands in "other". */
export const CONNECTION_STATES = [
  'active', 'idle', 'idle_in_transaction', 'idle_in_transaction_aborted', 'fastpath_function_call', 'disabled', 'other',
] as const;

/** BullMQ job states reported per queue (Queue.getJobCounts; jobs of a paused queue count as waiting). */
export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;

export type MonitorSource = 'database' | 'redis';

export function monitorMetrics() {
  return {
    dbSize: gauge({ name: 'fleet_db_size_bytes', help: 'Size of the fleet database, pg_database_size (runbook: warning > 8 GiB, critical > 10 GiB)' }),
    connections: gauge<'state'>({
      name: 'fleet_db_connections', help: 'Client connections to the server by state, pg_stat_activity (runbook: warning > 60, critical > 80 in total)', labelNames: ['state'],
    }),
    longestQuery: gauge({
      name: 'fleet_db_longest_query_seconds', help: 'Age of the longest running active statement in the fleet database, excluding the monitor and pg_dump/pg_restore (runbook: warning > 5 s, critical > 10 s)',
    }),
    lowStock: gauge({ name: 'fleet_inventory_low_stock_items', help: 'Active inventory items in status low_stock (runbook: warning > 5, critical > 10 items to reorder)' }),
    outOfStock: gauge({ name: 'fleet_inventory_out_of_stock_items', help: 'Active inventory items in status out_of_stock' }),
    sessionsActive: gauge({ name: 'fleet_admin_sessions_active', help: 'Admin sessions neither revoked nor expired (runbook: warning > 5, critical > 10)' }),
    adminUsers: gauge({ name: 'fleet_admin_users', help: 'Active admin users (runbook: critical when 0)' }),
    imagesOrphaned: gauge({ name: 'fleet_images_orphaned', help: 'Orphaned image objects found by the latest orphan scan (runbook: any is a warning); NaN before the first scan' }),
    jobCount: gauge<'queue' | 'state'>({ name: 'bullmq_job_count', help: 'Jobs per queue and BullMQ state', labelNames: ['queue', 'state'] }),
    jobLastSuccess: gauge<'queue'>({
      name: 'fleet_job_last_success_timestamp_seconds', help: 'When a job of this scheduled queue last completed (job_runs); 0 = never', labelNames: ['queue'],
    }),
    scheduleInterval: gauge<'queue'>({
      name: 'fleet_job_schedule_interval_seconds', help: 'Longest gap between two scheduled runs of this queue (ScheduledJobMissed fires after twice this)', labelNames: ['queue'],
    }),
    backupLastSuccess: gauge({ name: 'fleet_backup_last_success_timestamp_seconds', help: 'When the latest completed backup finished; 0 = never' }),
    backupLastVerified: gauge({ name: 'fleet_backup_last_verified_timestamp_seconds', help: 'When a backup was last verified by a restore drill; 0 = never' }),
    backupSize: gauge({ name: 'fleet_backup_size_bytes', help: 'Size of the latest completed backup' }),
    backupRestoreDuration: gauge({ name: 'fleet_backup_restore_duration_seconds', help: 'How long the latest verified backup took to restore (compare with the 1 h RTO)' }),
    lastSuccess: gauge({ name: 'fleet_monitor_last_success_timestamp_seconds', help: 'When the monitor last refreshed every metric successfully' }),
    refreshDuration: gauge({ name: 'fleet_monitor_refresh_duration_seconds', help: 'Wall time of the latest monitor refresh' }),
    errors: counter<'source'>({ name: 'fleet_monitor_errors_total', help: 'Monitor refreshes that failed, by source (database, redis)', labelNames: ['source'] }),
  };
}

export type MonitorMetrics = ReturnType<typeof monitorMetrics>;

/**
 * Counters whose value is read from the database (cumulative there), set on each refresh.
 * Created at the first successful read, not before: a 0 exposed at start followed by the
 * real total would look like a burst of failures to rate() after every restart. Restarts
 * and replicas of the monitor then report one continuous series (rules take the max).
 */
export function absoluteCounters() {
  return {
    rollbacks: counter({ name: 'fleet_db_rollbacks_total', help: 'Rolled-back transactions of the fleet database, pg_stat_database.xact_rollback (runbook "failed queries": warning > 5/h, critical > 20/h)' }),
    failedLogins: counter({ name: 'fleet_admin_failed_logins_total', help: 'Failed admin logins recorded in admin_security_events (runbook: warning > 10/h, critical > 25/h)' }),
  };
}

/**
 * Marks every value read from the database as unknown: NaN for plain gauges (PromQL
 * comparisons with NaN are false, so no threshold alert fires on a number we no longer
 * know), labelled series removed. Counters keep their last value: they are cumulative,
 * never wrong, only late, and FleetMonitorStale reports the gap.
 */
export function invalidateDatabase(m: MonitorMetrics): void {
  for (const g of [m.dbSize, m.longestQuery, m.lowStock, m.outOfStock, m.sessionsActive, m.adminUsers, m.imagesOrphaned,
    m.backupLastSuccess, m.backupLastVerified, m.backupSize, m.backupRestoreDuration]) g.set(NaN);
  m.connections.reset();
  m.jobLastSuccess.reset();
}

export function invalidateRedis(m: MonitorMetrics): void {
  m.jobCount.reset();
}

/** Sets a counter to an absolute value read from its source of truth (one synchronous step, so no scrape sees the reset). */
export function setCounter(c: ReturnType<typeof counter>, value: number): void {
  c.reset();
  if (value > 0) c.inc(value);
}
