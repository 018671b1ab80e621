import { gauge } from '../../shared/metrics.ts';

/**
 * Runbook (SPEC §9): any orphaned image is a warning. Set by each scan in the process that
 * ran it; the latest image_orphan_scans row holds the same number for other processes.
 */
export function orphanGauge() {
  return gauge({ name: 'fleet_images_orphaned', help: 'Objects in the images bucket that no row refers to (past the grace period), left after the last image-orphans scan' });
}
