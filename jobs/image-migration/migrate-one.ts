// One image, end to end: download → sniff → header checks → render → upload. Returns what
// happened; throws only for infrastructure failures (S3), which no single image causes.
import { safeDownload, DownloadError, type DownloadPolicy } from '../../shared/safe-download.ts';
import { VARIANT_WIDTHS, CANONICAL_WIDTH, imagePrefix, variantKey, IMAGE_TABLE_SPECS } from '../../shared/image-keys.ts';
import type { S3Client } from '../../shared/s3.ts';
import { sniff, OUTPUT_OF } from './sniff.ts';
import { plan, render, ImageRefusedError } from './render.ts';
import { existingObjects, putObject } from './store.ts';
import type { Candidate } from './queries.ts';
import type { Slots } from './slots.ts';

export type Outcome =
  | { kind: 'migrated'; canonicalKey: string; sha256: string; bytesIn: number; bytesOut: number; uploaded: number; reused: number }
  | { kind: 'failed'; reason: string; permanent: boolean; bytesIn: number };

export interface UnitDeps {
  s3: S3Client;
  bucket: string;
  policy: Omit<DownloadPolicy, 'maxBytes'>;
  dryRun: boolean;
  /**
   * Ask the bucket what is stored before decoding: only when a run may have been here before
   * (a retried or restarted attempt, a forced re-run). A first run over rows never migrated
   * finds nothing there, so it skips that request; should an object exist all the same (a
   * job that died and was given up), its content-addressed key gets the same bytes again.
   */
  lookFirst: boolean;
  signal: AbortSignal;
  /** Decoding and encoding slots: as many as cores, while more images download and upload. */
  cpu: Slots;
}

export async function migrateOne(c: Candidate & { source: string }, deps: UnitDeps): Promise<Outcome> {
  const { maxBytes } = IMAGE_TABLE_SPECS[c.table];
  let bytesIn = 0;
  try {
    const dl = await safeDownload(c.source, { ...deps.policy, maxBytes, signal: deps.signal });
    bytesIn = dl.body.length;
    const sniffed = sniff(dl.body);
    if ('refused' in sniffed) return { kind: 'failed', reason: sniffed.refused, permanent: true, bytesIn };
    const { ext } = OUTPUT_OF[sniffed.kind];
    const keys = [
      ...VARIANT_WIDTHS.map((w) => variantKey(c.table, c.id, dl.sha256, w, 'webp')),
      variantKey(c.table, c.id, dl.sha256, 'full', ext),
    ];
    const canonicalKey = variantKey(c.table, c.id, dl.sha256, CANONICAL_WIDTH, 'webp');

    // Content-addressed: when every variant of these exact bytes is stored, a re-run (or a
    // retry after a crash) neither decodes nor uploads anything.
    const existing = deps.dryRun || !deps.lookFirst ? new Map<string, number>() : await existingObjects(deps.s3, deps.bucket, imagePrefix(c.table, c.id, dl.sha256), deps.signal);
    if (keys.every((k) => existing.has(k))) {
      const bytesOut = keys.reduce((n, k) => n + (existing.get(k) ?? 0), 0);
      return { kind: 'migrated', canonicalKey, sha256: dl.sha256, bytesIn, bytesOut, uploaded: 0, reused: keys.length };
    }

    const p = await plan(dl.body, sniffed.kind);
    let uploaded = 0;
    let reused = 0;
    let bytesOut = 0;
    const uploads: Promise<void>[] = [];
    // The slot is held for decoding and encoding only; uploads finish outside it.
    await deps.cpu.run(() => render(dl.body, p, async (o) => {
      const key = variantKey(c.table, c.id, dl.sha256, o.variant, o.ext);
      bytesOut += o.body.length;
      if (deps.dryRun) return;
      if (existing.has(key)) { reused++; return; }
      const upload = putObject(deps.s3, deps.bucket, key, o.body, o.contentType, deps.signal).then(() => { uploaded++; });
      upload.catch(() => {}); // observed below, after the slot is released
      uploads.push(upload);
    }));
    await Promise.all(uploads);
    return { kind: 'migrated', canonicalKey, sha256: dl.sha256, bytesIn, bytesOut, uploaded, reused };
  } catch (err) {
    if (err instanceof DownloadError) {
      if (err.code === 'aborted') throw err;
      return { kind: 'failed', reason: err.message, permanent: err.permanent, bytesIn };
    }
    if (err instanceof ImageRefusedError) return { kind: 'failed', reason: err.message, permanent: true, bytesIn };
    throw err;
  }
}
