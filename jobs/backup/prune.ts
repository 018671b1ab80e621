import type { JobContext } from '../../shared/job.ts';
import { manifestKey } from './keys.ts';
import { refreshBackupMetrics } from './metrics.ts';
import { completedForRetention, deleteBackupRows, failedOlderThan } from './queries.ts';
import { planRetention } from './retention.ts';
import { deleteObjects } from './uploads.ts';
import type { BackupPrunePayload } from './backup-prune.ts';

export interface BackupPruneResult {
  dryRun: boolean;
  policy: { daily: number; weekly: number; monthly: number };
  kept: { id: string; reasons: string[] }[];
  deleted: string[];
  deletedFailed: number;
}

/**
 * Applies the retention policy: objects first, then rows, so a crash in between leaves rows
 * whose objects are gone, which the next run deletes again (deletes are idempotent). Failed
 * attempts are kept as long as the daily window, for diagnosis, then go too.
 */
export async function pruneBackups(payload: BackupPrunePayload, ctx: JobContext): Promise<BackupPruneResult> {
  const policy = {
    daily: payload.keepDaily ?? ctx.config.backupRetention.daily,
    weekly: payload.keepWeekly ?? ctx.config.backupRetention.weekly,
    monthly: payload.keepMonthly ?? ctx.config.backupRetention.monthly,
  };
  const completed = await completedForRetention(ctx.db);
  const plan = planRetention(completed.map((r) => ({ id: r.id, startedAt: r.started_at, verified: r.verified })), policy);
  const failed = await failedOlderThan(ctx.db, new Date(Date.now() - Math.max(policy.daily, 1) * 86_400_000));
  const doomed = [...completed.filter((r) => plan.remove.includes(r.id)), ...failed];
  const kept = [...plan.keep].map(([id, reasons]) => ({ id, reasons }));

  if (!payload.dryRun) {
    for (const [i, row] of doomed.entries()) {
      ctx.signal.throwIfAborted();
      await deleteObjects(ctx.s3, ctx.config.backupBucket, [manifestKey(row.id), row.object_key]);
      await deleteBackupRows(ctx.db, [row.id]);
      await ctx.progress({ done: i + 1, total: doomed.length });
    }
    await refreshBackupMetrics(ctx.db).catch(() => {});
  }
  ctx.log.info({ kept: kept.length, deleted: plan.remove.length, deletedFailed: failed.length, dryRun: payload.dryRun }, 'backup retention applied');
  return { dryRun: payload.dryRun, policy, kept, deleted: plan.remove, deletedFailed: failed.length };
}
