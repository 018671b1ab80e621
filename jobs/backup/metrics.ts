import { gauge } from '../../shared/metrics.ts';
import type { Pool } from '../../shared/db.ts';
import { metricsState } from './queries.ts';

/**
 * Backup gauges, read from the backups table (not only set by the process that ran the
 * job), so any fleet process reports the same values after a restart. Alerting:
 * BackupTooOld on last_success (26 h), BackupNotVerified on last_verified (8 days), and the
 * restore duration against the seed's RTO of 1 h.
 */
export function backupMetrics() {
  return {
    lastSuccess: gauge({ name: 'fleet_backup_last_success_timestamp_seconds', help: 'Unix time the newest completed backup finished (0: none yet)' }),
    lastVerified: gauge({ name: 'fleet_backup_last_verified_timestamp_seconds', help: 'Unix time a backup was last restored and matched its manifest (0: never)' }),
    size: gauge({ name: 'fleet_backup_size_bytes', help: 'Size in bytes of the newest completed backup object' }),
    restoreDuration: gauge({ name: 'fleet_backup_restore_duration_seconds', help: 'Restore time of the latest successful verification (RTO target: 3600)' }),
  };
}

/** Sets the gauges from the database; called after every backup job and by the DB monitor. */
export async function refreshBackupMetrics(db: Pool): Promise<void> {
  const s = await metricsState(db);
  const m = backupMetrics();
  m.lastSuccess.set(s.last_success ? s.last_success.getTime() / 1000 : 0);
  m.size.set(s.last_bytes ?? 0);
  m.lastVerified.set(s.last_verified ? s.last_verified.getTime() / 1000 : 0);
  m.restoreDuration.set(s.last_restore_ms === null ? 0 : s.last_restore_ms / 1000);
}
