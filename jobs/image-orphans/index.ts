import { z } from 'zod';
import { defineJob } from '../../shared/job.ts';
import { findOrphans } from './handler.ts';

export const imageOrphansSchema = z.strictObject({
  /** Delete the orphans found; the default only reports them. */
  delete: z.boolean().default(false),
  /**
   * Objects younger than this are never orphans [24]: an image-migration batch uploads
   * variants before it points rows at them, and a batch ends well within a day.
   */
  graceHours: z.number().min(0).max(24 * 365).default(24),
});
export type ImageOrphansPayload = z.output<typeof imageOrphansSchema>;

export default defineJob({
  name: 'image-orphans',
  description: 'Find objects in the images bucket that no row refers to; delete them on request',
  schema: imageOrphansSchema,
  handler: findOrphans,
  concurrency: 1,
  // A retry waits for a running migration to release the bucket lock.
  options: { attempts: 5, backoff: { type: 'exponential', delay: 60_000 } },
  // Weekly, report only (SPEC §10); deleting is an admin's call.
  schedules: [{ cron: '0 5 * * 0' }],
});
