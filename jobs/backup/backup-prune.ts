import { z } from 'zod';
import { defineJob } from '../../shared/job.ts';
import { pruneBackups } from './prune.ts';

const keep = z.number().int().min(0).max(3_650).optional();

export const backupPruneSchema = z.strictObject({
  /** Report what would go without deleting anything. */
  dryRun: z.boolean().default(false),
  /** Override BACKUP_KEEP_DAILY / BACKUP_KEEP_WEEKLY / BACKUP_KEEP_MONTHLY for this run. */
  keepDaily: keep,
  keepWeekly: keep,
  keepMonthly: keep,
});
export type BackupPrunePayload = z.output<typeof backupPruneSchema>;

export default defineJob({
  name: 'backup-prune',
  description: 'Delete backups outside the daily/weekly/monthly retention (objects and rows), never the last verified one',
  schema: backupPruneSchema,
  handler: pruneBackups,
  concurrency: 1,
  options: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
  // After the 03:00 export has normally finished; the newest backup is always kept anyway.
  schedules: [{ cron: '30 3 * * *' }],
});
