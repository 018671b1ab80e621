import { counter } from '../../shared/metrics.ts';

/** Label values are fixed words, never ids or URLs. */
export function imageMetrics() {
  return {
    images: counter<'outcome'>({
      name: 'fleet_images_migrated_total', help: 'Images handled by image-migration, by outcome (migrated, skipped, failed)', labelNames: ['outcome'],
    }),
    bytes: counter<'direction'>({
      name: 'fleet_image_bytes_total', help: 'Image bytes downloaded (in) and produced as variants (out)', labelNames: ['direction'],
    }),
  };
}
