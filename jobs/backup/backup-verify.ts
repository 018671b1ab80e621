import { z } from 'zod';
import { defineJob } from '../../shared/job.ts';
import { verifyBackup } from './verify.ts';

export const backupVerifySchema = z.strictObject({
  /** The backup to verify; the newest completed full backup when omitted. */
  backupId: z.string().uuid().optional(),
  /** pg_restore --jobs for the drill; above 1 the object is spooled to a temp file first [1]. */
  jobs: z.number().int().min(1).max(16).default(1),
});
export type BackupVerifyPayload = z.output<typeof backupVerifySchema>;

export default defineJob({
  name: 'backup-verify',
  description: 'Restore a backup into a scratch database and compare every table\'s row count with its manifest',
  schema: backupVerifySchema,
  handler: verifyBackup,
  concurrency: 1,
  timeoutMs: 6 * 3600_000,
  options: { attempts: 2, backoff: { type: 'exponential', delay: 300_000 } },
  schedules: [{ cron: '0 4 * * 0' }],
});
