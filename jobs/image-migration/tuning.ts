import os from 'node:os';
import v8 from 'node:v8';
import sharp from 'sharp';
import type { Logger } from '../../shared/logger.ts';

let tuned = false;

/**
 * Once per process, on the first run of the job (the settings are process-wide, so only
 * processes that do image work get them):
 *
 * - Pixel and image buffers live outside the JS heap, yet V8 counts them against the old
 *   generation's allocation limit. A worker's heap is small (~30 MB of loaded code) and V8
 *   lets it grow only a few MB before a full mark-compact, so every decoded photo cost one:
 *   measured, 48 full GCs for 60 images, about 15% of the job's CPU. Letting the limit grow
 *   to 4× the live heap cuts that to 10.
 * - sharp decodes with one thread per image on glibc unless MALLOC_ARENA_MAX is set
 *   (memory fragmentation); say so, since it halves throughput on the 2-core target.
 */
export function tuneProcessForImages(log: Logger): void {
  if (tuned) return;
  tuned = true;
  v8.setFlagsFromString('--heap-growing-percent=300');
  const cores = os.availableParallelism();
  if (sharp.concurrency() < cores) {
    log.warn({ sharpThreads: sharp.concurrency(), cores }, 'sharp uses fewer threads than cores: start image workers with MALLOC_ARENA_MAX=2');
  }
}
