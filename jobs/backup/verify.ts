import crypto from 'node:crypto';
import type { JobContext } from '../../shared/job.ts';
import { databaseName, quoteIdent, withDatabase } from '../../shared/db.ts';
import { PermanentJobError, errorMessage } from '../../shared/errors.ts';
import { VERIFY_LOCK, takeLock } from './lock.ts';
import { readManifest, ManifestError } from './manifest.ts';
import { refreshBackupMetrics } from './metrics.ts';
import { findBackup, latestFullBackup, recordVerification, type BackupRow } from './queries.ts';
import { compareCounts, restoreBackup, type CountCheck } from './restore.ts';
import { withClient } from './target.ts';
import type { BackupVerifyPayload } from './backup-verify.ts';

export interface BackupVerifyResult {
  ok: boolean;
  backupId: string;
  /** Whole restore as an operator would run it (fetch + checksum + pg_restore), in ms. */
  restoreMs: number;
  mode: 'stream' | 'file';
  tables: number;
  rows: number;
  mismatches: CountCheck['mismatches'];
  checkedAt: string;
}

/** Scratch databases of this source database share a prefix, so leftovers can be found and dropped. */
export function scratchPrefix(sourceDb: string): string {
  return `${sourceDb.slice(0, 40)}_verify_`;
}

async function dropScratch(adminUrl: string, names: string[]): Promise<void> {
  await withClient(adminUrl, async (c) => {
    for (const name of names) await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}

/** Scratch databases left by a verify that was killed before its cleanup ran (we hold the verify lock). */
async function leftoverScratch(adminUrl: string, prefix: string): Promise<string[]> {
  return withClient(adminUrl, async (c) => (await c.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1', [prefix])).rows.map((r) => r.datname));
}

async function pickBackup(ctx: JobContext, backupId: string | undefined): Promise<BackupRow> {
  const row = backupId ? await findBackup(ctx.db, backupId) : await latestFullBackup(ctx.db);
  if (!row) throw new PermanentJobError(backupId ? `No backup ${backupId} in the backups table` : 'No completed full backup to verify yet; run backup-export first');
  if (row.status !== 'completed') throw new PermanentJobError(`Backup ${row.id} is ${row.status}; only completed backups can be verified`);
  return row;
}

export async function verifyBackup(payload: BackupVerifyPayload, ctx: JobContext): Promise<BackupVerifyResult> {
  const adminUrl = withDatabase(ctx.config.databaseUrl);
  const prefix = scratchPrefix(databaseName(ctx.config.databaseUrl));
  const lock = await takeLock(ctx.db, VERIFY_LOCK, 'backup-verify');
  let row: BackupRow | undefined;
  let recorded = false;
  try {
    const leftovers = await leftoverScratch(adminUrl, prefix);
    if (leftovers.length) {
      ctx.log.warn({ databases: leftovers }, 'dropping scratch databases left by an interrupted verify');
      await dropScratch(adminUrl, leftovers);
    }
    row = await pickBackup(ctx, payload.backupId);
    const manifest = await readManifest(ctx.s3, ctx.config.backupBucket, row.id).catch((err: unknown) => {
      throw err instanceof ManifestError ? new PermanentJobError(err.message) : err;
    });
    if (manifest.object.sha256 !== row.sha256 || manifest.object.bytes !== Number(row.bytes)) {
      throw new PermanentJobError(`Backup ${row.id}: manifest and backups row disagree on the object's checksum or size`);
    }

    const scratch = `${prefix}${crypto.randomBytes(4).toString('hex')}`;
    const scratchUrl = withDatabase(ctx.config.databaseUrl, scratch);
    await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(scratch)} TEMPLATE template0`));
    let outcome;
    let counts;
    try {
      ctx.log.info({ backupId: row.id, scratch }, 'restoring into scratch database');
      outcome = await restoreBackup({
        s3: ctx.s3, bucket: ctx.config.backupBucket, manifest, targetUrl: scratchUrl, jobs: payload.jobs,
        encryptionKey: ctx.config.backupEncryptionKey, pgBinDir: ctx.config.pgBinDir, signal: ctx.signal,
        onPhase: (phase, detail) => { void ctx.progress({ done: phase === 'restore' ? 1 : 0, total: 2, phase, detail }).catch(() => {}); },
      });
      counts = await compareCounts(scratchUrl, manifest);
    } finally {
      // Dropped whatever happened above; a failure here is logged, and the next run's sweep retries it.
      await dropScratch(adminUrl, [scratch]).catch((err: unknown) => ctx.log.error({ err, scratch }, 'could not drop scratch database'));
    }

    const result: BackupVerifyResult = {
      ok: counts.ok, backupId: row.id, restoreMs: Math.round(outcome.durationMs), mode: outcome.mode,
      tables: counts.tables, rows: counts.rows, mismatches: counts.mismatches, checkedAt: new Date().toISOString(),
    };
    await recordVerification(ctx.db, row.id, counts.ok, result, result.restoreMs);
    recorded = true;
    ctx.log.info({ backupId: row.id, ok: counts.ok, restoreMs: result.restoreMs }, 'backup verified');
    if (!counts.ok) {
      const list = counts.mismatches.slice(0, 5).map((x) => `${x.table}: expected ${x.expected ?? 'none'}, restored ${x.actual ?? 'none'}`).join('; ');
      throw new PermanentJobError(`Backup ${row.id} restored, but ${counts.mismatches.length} table(s) differ from its manifest: ${list}`);
    }
    return result;
  } catch (err) {
    if (row && !recorded && !ctx.signal.aborted) {
      await recordVerification(ctx.db, row.id, false, { ok: false, backupId: row.id, error: errorMessage(err), checkedAt: new Date().toISOString() }, null)
        .catch((e: unknown) => ctx.log.error({ err: e }, 'could not record the failed verification'));
    }
    throw err;
  } finally {
    await lock.release();
    await refreshBackupMetrics(ctx.db).catch(() => {});
  }
}
