import { z } from 'zod';
import { defineJob } from '../../shared/job.ts';
import { IMAGE_TABLES, IMAGE_TABLE_SPECS } from '../../shared/image-keys.ts';
import { migrateImages } from './handler.ts';

const MAX_BIGINT = 2n ** 63n - 1n;

export const imageMigrationSchema = z.strictObject({
  /** Only this table; every image table when omitted. Required with ids. */
  table: z.enum(IMAGE_TABLES).optional(),
  /** These rows (whatever their state); a scan of rows not yet migrated when omitted. */
  ids: z.array(z.string().min(1).max(64)).min(1).max(10_000).optional(),
  /** Rows per scan: a bounded batch, so the hourly run always ends [500]. */
  limit: z.number().int().min(1).max(50_000).default(500),
  /** Download, check and render, but upload and write nothing. */
  dryRun: z.boolean().default(false),
  /** Redo rows already migrated (stored variants are reused, missing ones re-uploaded). */
  force: z.boolean().default(false),
}).superRefine((p, ctx) => {
  if (p.ids && !p.table) {
    ctx.addIssue({ code: 'custom', path: ['table'], message: 'is required when ids are given (ids are per table)' });
    return;
  }
  if (p.ids && p.table) {
    const spec = IMAGE_TABLE_SPECS[p.table];
    p.ids.forEach((id, i) => {
      // 19 digits can still overflow bigint, which PostgreSQL would reject on every retry.
      const valid = spec.idPattern.test(id) && (spec.idType !== 'bigint' || BigInt(id) <= MAX_BIGINT);
      if (!valid) ctx.addIssue({ code: 'custom', path: ['ids', i], message: `"${id.slice(0, 64)}" is not a ${p.table} id (${spec.idType})` });
    });
  }
});
export type ImageMigrationPayload = z.output<typeof imageMigrationSchema>;

export default defineJob({
  name: 'image-migration',
  description: 'Legacy R2 / external image URLs → optimized WebP variants in the images bucket',
  schema: imageMigrationSchema,
  handler: migrateImages,
  // One batch per process at a time; the batch itself works on IMAGE_CONCURRENCY images.
  concurrency: 1,
  // Each image reports progress; a stuck download is bounded by IMAGE_DOWNLOAD_TIMEOUT_MS.
  options: { attempts: 3, backoff: { type: 'exponential', delay: 30_000 } },
  schedules: [{ cron: '17 * * * *', payload: { limit: 500 } }],
});
