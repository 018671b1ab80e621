import { z } from 'zod';
import { defineJob, isStorableText, STORABLE_TEXT } from '../../shared/job.ts';
import { exportBackup } from './export.ts';

export const backupExportSchema = z.strictObject({
  /** full: schema and data; schema: definitions only; data: rows only (pg_dump --schema-only / --data-only). */
  kind: z.enum(['full', 'schema', 'data']).default('full'),
  /** Limit the dump to these tables ("name" or "schema.name"); the whole database when omitted. */
  tables: z.array(z.string().min(1).max(127)).min(1).max(500).optional(),
  /** Free text shown in `fleet backup list`, e.g. "before the price migration". */
  label: z.string().min(1).max(200).refine(isStorableText, STORABLE_TEXT).optional(),
});
export type BackupExportPayload = z.output<typeof backupExportSchema>;

export default defineJob({
  name: 'backup-export',
  description: 'pg_dump (custom format) streamed to BACKUP_BUCKET with sha256, row counts and a manifest',
  schema: backupExportSchema,
  handler: exportBackup,
  concurrency: 1,
  // A dump of a healthy database never takes this long; a hung one is stopped and retried.
  timeoutMs: 6 * 3600_000,
  options: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
  schedules: [{ cron: '0 3 * * *' }],
});
