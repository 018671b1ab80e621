import { z } from 'zod';
import { defineJob, isStorableText, STORABLE_TEXT } from '../../shared/job.ts';
import { syncCatalogue } from './handler.ts';

export const kicksdbSyncSchema = z.strictObject({
  source: z.enum(['stockx', 'goat']),
  /** full: every page; incremental: newest first, stopping at items older than the cursor. */
  mode: z.enum(['full', 'incremental']),
  /** A search query; its runs keep their own cursor, apart from the whole catalogue's. */
  query: z.string().trim().min(1).max(200).refine(isStorableText, STORABLE_TEXT).optional(),
  /** Stop after this many pages in this attempt (the cursor then does not move). */
  maxPages: z.number().int().min(1).max(100_000).optional(),
});
export type KicksdbSyncPayload = z.output<typeof kicksdbSyncSchema>;

export default defineJob({
  name: 'kicksdb-sync',
  description: 'Sync the StockX/GOAT sneaker catalogue from KicksDB into products and product_variants',
  schema: kicksdbSyncSchema,
  handler: syncCatalogue,
  // The shared API rate limit is the bottleneck, not this process: one run at a time per worker.
  concurrency: 1,
  // A failed attempt resumes after its last committed page, so retries are cheap; wait long
  // enough for a rate-limited or struggling API to recover.
  options: { attempts: 5, backoff: { type: 'exponential', delay: 30_000 } },
  schedules: [
    { name: 'kicksdb-sync-stockx', cron: '0 */12 * * *', payload: { source: 'stockx', mode: 'incremental' } },
    { name: 'kicksdb-sync-goat', cron: '0 */12 * * *', payload: { source: 'goat', mode: 'incremental' } },
  ],
});
