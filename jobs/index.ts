import type { AnyJob } from '../shared/job.ts';
import mvRefresh from './mv-refresh/index.ts';
import kicksdbSync from './kicksdb-sync/index.ts';
import stockAlerts from './stock-alerts/index.ts';
import integrityRepair from './integrity-repair/index.ts';
import backupExport from './backup/backup-export.ts';
import backupVerify from './backup/backup-verify.ts';
import backupPrune from './backup/backup-prune.ts';
import imageMigration from './image-migration/index.ts';
import imageOrphans from './image-orphans/index.ts';
import inventoryImport from './inventory-import/index.ts';

/** Every job of the fleet. A job is added here and nowhere else. */
export const allJobs: readonly AnyJob[] = [
  mvRefresh as AnyJob,
  kicksdbSync as AnyJob,
  stockAlerts as AnyJob,
  integrityRepair as AnyJob,
  backupExport as AnyJob,
  backupVerify as AnyJob,
  backupPrune as AnyJob,
  imageMigration as AnyJob,
  imageOrphans as AnyJob,
  inventoryImport as AnyJob,
];

export function jobByName(name: string): AnyJob | undefined {
  return allJobs.find((j) => j.name === name);
}
