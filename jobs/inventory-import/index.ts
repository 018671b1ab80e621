import { z } from 'zod';
import { defineJob, isStorableText, STORABLE_TEXT } from '../../shared/job.ts';
import { importInventory } from './handler.ts';

const source = z.union([
  /** A file on the worker's machine. */
  z.strictObject({ path: z.string().min(1).max(4_096).refine(isStorableText, STORABLE_TEXT) }),
  /** An object in S3; the bucket defaults to IMPORT_BUCKET. */
  z.strictObject({ s3: z.strictObject({ bucket: z.string().min(3).max(63).optional(), key: z.string().min(1).max(1_024).refine(isStorableText, STORABLE_TEXT) }) }),
  z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(4_096) }),
], { error: 'must be one of {"path"}, {"s3":{"key","bucket"?}} or {"url"}' });
export type ImportSource = z.output<typeof source>;

export const inventoryImportSchema = z.strictObject({
  source,
  /** Report what would change, change nothing. */
  dryRun: z.boolean().default(false),
});
export type InventoryImportPayload = z.output<typeof inventoryImportSchema>;

export default defineJob({
  name: 'inventory-import',
  description: 'AliExpress order export (JSON) → inventory: categories, prices, attributes, snapshot upsert',
  schema: inventoryImportSchema,
  handler: importInventory,
  // Imports take turns anyway (an advisory lock in the transaction).
  concurrency: 1,
  timeoutMs: 60 * 60_000,
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000 } },
});
