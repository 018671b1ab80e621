import { counter } from '../../shared/metrics.ts';

/** Label values are fixed words, never ids or URLs. */
export function imageMetrics() {
  const m = {
    images: counter<'outcome'>({
      name: 'fleet_images_migrated_total', help: 'Images handled by image-migration, by outcome (migrated, skipped, failed)', labelNames: ['outcome'],
    }),
    bytes: counter<'direction'>({
      name: 'fleet_image_bytes_total', help: 'Image bytes downloaded (in) and produced as variants (out)', labelNames: ['direction'],
    }),
  };
  // Every series exists from the first run on, so rate() never starts from nothing.
  for (const outcome of ['migrated', 'skipped', 'failed']) m.images.inc({ outcome }, 0);
  for (const direction of ['in', 'out']) m.bytes.inc({ direction }, 0);
  return m;
}
