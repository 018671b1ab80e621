import type { JobContext } from '../../shared/job.ts';
import { acquireAdvisoryLock } from '../../shared/advisory-lock.ts';
import { IMAGE_BUCKET_LOCK, parseVariantKey, publicBaseUrl } from '../../shared/image-keys.ts';
import { listBucket, deleteKeys, type StoredObject } from './bucket.ts';
import { loadReferences, recordScan, type References } from './queries.ts';
import { orphanGauge } from './metrics.ts';
import type { ImageOrphansPayload } from './index.ts';

export interface ImageOrphansResult {
  objects: number;
  /** Unreferenced objects older than the grace period. */
  found: number;
  deleted: number;
  /** Still in the bucket after this run (found − deleted): what fleet_images_orphaned shows. */
  orphaned: number;
  bytes: number;
  deletedBytes: number;
  graceHours: number;
  /** The first orphans, oldest first (the audit row keeps up to 10,000). */
  sample: { key: string; bytes: number; lastModified: string }[];
  deleteErrors: { key: string; error: string }[];
}

const SAMPLE = 100;

function referenced(o: StoredObject, refs: References): boolean {
  if (refs.keys.has(o.key)) return true;
  const k = parseVariantKey(o.key);
  return k !== undefined && refs.images.has(`${k.table}/${k.id}/${k.sha256}`);
}

export async function findOrphans(p: ImageOrphansPayload, ctx: JobContext): Promise<ImageOrphansResult> {
  const { config, log, signal } = ctx;
  const bucket = config.imageBucket;
  const base = publicBaseUrl(config);
  const cutoff = Date.now() - p.graceHours * 3_600_000;
  // List first, then read references: an object uploaded in between is young, so the
  // grace period protects it; deletion re-reads references under the lock below anyway.
  const objects = await listBucket(ctx.s3, bucket, signal);
  const refs = await loadReferences(ctx.db, base);
  const orphans = objects.filter((o) => o.lastModified < cutoff && !referenced(o, refs)).sort((a, b) => a.lastModified - b.lastModified);
  const bytes = orphans.reduce((n, o) => n + o.bytes, 0);
  let deleted: StoredObject[] = [];
  let deleteErrors: { key: string; error: string }[] = [];

  if (p.delete && orphans.length > 0) {
    // Exclusive against running migrations, which may be about to point a row at one of these.
    const lock = await acquireAdvisoryLock(ctx.db, IMAGE_BUCKET_LOCK, { waitMs: 120_000, signal });
    if (!lock) throw new Error('an image-migration run holds the bucket lock; orphan deletion will retry');
    try {
      const fresh = await loadReferences(ctx.db, base);
      const doomed = orphans.filter((o) => !referenced(o, fresh));
      deleteErrors = await deleteKeys(ctx.s3, bucket, doomed.map((o) => o.key));
      const failed = new Set(deleteErrors.map((e) => e.key));
      deleted = doomed.filter((o) => !failed.has(o.key));
    } finally {
      await lock.release();
    }
  }

  const deletedBytes = deleted.reduce((n, o) => n + o.bytes, 0);
  const result: ImageOrphansResult = {
    objects: objects.length, found: orphans.length, deleted: deleted.length, orphaned: orphans.length - deleted.length,
    bytes, deletedBytes, graceHours: p.graceHours,
    sample: orphans.slice(0, SAMPLE).map((o) => ({ key: o.key, bytes: o.bytes, lastModified: new Date(o.lastModified).toISOString() })),
    deleteErrors: deleteErrors.slice(0, SAMPLE),
  };
  await recordScan(ctx.db, { bucket, graceHours: p.graceHours, objects: objects.length, found: result.found, orphaned: result.orphaned, deleted: result.deleted, bytes, deletedBytes, jobId: ctx.job.id });
  orphanGauge().set(result.orphaned);
  if (orphans.length > 0) ctx.audit({ orphans: orphans.slice(0, 10_000).map((o) => o.key), deleteErrors });
  log[result.orphaned > 0 ? 'warn' : 'info']({ objects: result.objects, found: result.found, deleted: result.deleted, orphaned: result.orphaned, bytes }, 'image orphan scan finished');
  return result;
}
