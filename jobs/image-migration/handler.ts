import type { JobContext } from '../../shared/job.ts';
import { acquireAdvisoryLock, type HeldLock } from '../../shared/advisory-lock.ts';
import { IMAGE_BUCKET_LOCK, IMAGE_SCAN_LOCK, publicBaseUrl, publicUrl, type ImageTable } from '../../shared/image-keys.ts';
import { describeUrl } from '../../shared/net-guard.ts';
import { selectRows } from './select.ts';
import { migrateOne, type UnitDeps } from './migrate-one.ts';
import { UpdateBuffer } from './update-buffer.ts';
import { Slots } from './slots.ts';
import { tuneProcessForImages } from './tuning.ts';
import { imageMetrics } from './metrics.ts';
import type { ImageMigrationPayload } from './index.ts';

export interface ImageFailure { table: ImageTable; id: string; reason: string }

export interface ImageMigrationResult {
  migrated: number;
  skipped: number;
  failed: ImageFailure[];
  /** All failures; `failed` lists the first MAX_LISTED (the audit row keeps them all). */
  failedTotal: number;
  bytesIn: number;
  bytesOut: number;
  /** Objects written, and variants found already stored (content-addressed re-runs). */
  uploaded: number;
  reused: number;
  dryRun: boolean;
  /** Set when another scan was running: this one did nothing (schedules never overlap). */
  busy?: boolean;
}

const MAX_LISTED = 100;

export async function migrateImages(p: ImageMigrationPayload, ctx: JobContext): Promise<ImageMigrationResult> {
  const { config, log, signal } = ctx;
  tuneProcessForImages(log);
  const metrics = imageMetrics();
  const result: ImageMigrationResult = { migrated: 0, skipped: 0, failed: [], failedTotal: 0, bytesIn: 0, bytesOut: 0, uploaded: 0, reused: 0, dryRun: p.dryRun };
  const failures: ImageFailure[] = [];
  const locks: HeldLock[] = [];
  try {
    if (!p.ids) {
      const scan = await acquireAdvisoryLock(ctx.db, IMAGE_SCAN_LOCK);
      if (!scan) {
        log.info('another image-migration scan is running; this run does nothing');
        return { ...result, busy: true };
      }
      locks.push(scan);
    }
    if (!p.dryRun) {
      // Orphan deletion holds this exclusively for seconds; wait it out.
      const bucket = await acquireAdvisoryLock(ctx.db, IMAGE_BUCKET_LOCK, { shared: true, waitMs: 300_000, signal });
      if (!bucket) throw new Error('image-orphans has held the bucket lock for 5 minutes; will retry');
      locks.push(bucket);
    }

    const base = publicBaseUrl(config);
    const sel = await selectRows(ctx.db, base, p);
    result.skipped += sel.skipped.length;
    failures.push(...sel.failed);
    const total = sel.work.length;
    log.info({ total, skipped: sel.skipped.length, failed: sel.failed.length, dryRun: p.dryRun }, 'image migration started');

    const deps: UnitDeps = {
      s3: ctx.s3, bucket: config.imageBucket, dryRun: p.dryRun, signal, cpu: new Slots(config.imageConcurrency),
      lookFirst: p.force || !ctx.job.firstRun,
      policy: {
        hosts: config.imageSourceHosts, allowPrivateNetworks: config.imageAllowPrivateNetworks,
        allowAddresses: config.imageAllowAddresses, timeoutMs: config.imageDownloadTimeoutMs, userAgent: 'stockroom-fleet/image-migration',
      },
    };
    const updates = new UpdateBuffer(ctx.db, p.dryRun, (table, id, applied) => {
      if (applied) { result.migrated++; metrics.images.inc({ outcome: 'migrated' }); } else {
        result.skipped++;
        metrics.images.inc({ outcome: 'skipped' });
        log.info({ table, id }, 'row changed while its image was migrated; left for the next run');
      }
    });

    let next = 0;
    let done = 0;
    let fatal: unknown;
    let lastProgress = 0;
    const worker = async () => {
      while (next < total && fatal === undefined && !signal.aborted) {
        const c = sel.work[next++]!;
        try {
          const o = await migrateOne(c, deps);
          result.bytesIn += o.bytesIn;
          metrics.bytes.inc({ direction: 'in' }, o.bytesIn);
          if (o.kind === 'migrated') {
            result.bytesOut += o.bytesOut;
            result.uploaded += o.uploaded;
            result.reused += o.reused;
            metrics.bytes.inc({ direction: 'out' }, o.bytesOut);
            updates.migrated(c.table, {
              id: c.id, url: publicUrl(config, o.canonicalKey), sha256: o.sha256, source: c.source, oldImageUrl: c.imageUrl, oldR2Url: c.r2Url,
            });
          } else {
            failures.push({ table: c.table, id: c.id, reason: o.reason });
            metrics.images.inc({ outcome: 'failed' });
            log.warn({ table: c.table, id: c.id, source: describeUrl(c.source), reason: o.reason, permanent: o.permanent }, 'image not migrated');
            updates.failed({ table: c.table, id: c.id, source: c.source, reason: o.reason, permanent: o.permanent });
          }
        } catch (err) {
          // Not this image's fault (S3 or the database): stop taking work, keep what is done.
          fatal ??= err;
        }
        done++;
        if (Date.now() - lastProgress > 250 || done === total) {
          lastProgress = Date.now();
          await ctx.progress({ done, total }).catch(() => {});
        }
      }
    };
    // Three images in flight per CPU slot: while some decode and encode, others download or
    // upload, so the cores never wait on the network (a slow store included). Each waiting
    // image holds only its compressed source and outputs, about 2 MB for a photo.
    await Promise.all(Array.from({ length: Math.min(3 * config.imageConcurrency, Math.max(total, 1)) }, worker));
    await updates.close();
    if (fatal !== undefined) throw fatal;
    signal.throwIfAborted();
    if (p.dryRun) result.migrated = updates.wouldMigrate;
  } finally {
    for (const l of locks.reverse()) await l.release();
    result.failedTotal = failures.length;
    result.failed = failures.slice(0, MAX_LISTED);
    if (failures.length > 0) ctx.audit({ failed: failures.slice(0, 10_000) });
  }
  log.info({ migrated: result.migrated, skipped: result.skipped, failed: result.failedTotal, uploaded: result.uploaded, bytesIn: result.bytesIn, bytesOut: result.bytesOut }, 'image migration finished');
  return result;
}
