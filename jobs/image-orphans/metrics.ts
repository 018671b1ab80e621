import { gauge } from '../../shared/metrics.ts';

/** Runbook (SPEC §9): any orphaned image is a warning. Set by each scan; 0 until the first. */
export function orphanGauge() {
  return gauge({ name: 'fleet_images_orphaned', help: 'Objects in the images bucket no row refers to, older than the grace period, left after the last scan' });
}
