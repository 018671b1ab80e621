import type { JobContext } from '../../shared/job.ts';
import { databaseName } from '../../shared/db.ts';
import { PermanentJobError, errorMessage } from '../../shared/errors.ts';
import { ENCRYPTION_SCHEME, DEFAULT_CHUNK_SIZE, keyId, parseEncryptionKey } from './crypto.ts';
import { dumpToS3 } from './dump.ts';
import { BACKUP_PREFIX, dumpKey, manifestKey, newBackupId } from './keys.ts';
import { EXPORT_LOCK, takeLock } from './lock.ts';
import { MANIFEST_FORMAT, writeManifest, type Manifest } from './manifest.ts';
import { refreshBackupMetrics } from './metrics.ts';
import { majorOf, pgBinary, toolVersion } from './pgtools.ts';
import { completedByJob, insertRunning, markCompleted, markFailed, runningBackups, type BackupRow } from './queries.ts';
import { countRows, listTables, resolveTables, tableKey } from './tables.ts';
import { abortUnfinishedUploads, deleteObjects } from './uploads.ts';
import type { BackupExportPayload } from './backup-export.ts';

export interface BackupExportResult {
  backupId: string;
  key: string;
  manifestKey: string;
  bytes: number;
  sha256: string;
  tables: Record<string, number>;
  durationMs: number;
  encrypted: boolean;
}

function resultOf(row: BackupRow): BackupExportResult {
  return {
    backupId: row.id, key: row.object_key, manifestKey: row.manifest_key ?? manifestKey(row.id), bytes: row.bytes ?? 0,
    sha256: row.sha256 ?? '', tables: row.tables ?? {}, durationMs: row.duration_ms ?? 0, encrypted: row.encrypted,
  };
}

/** Versions of pg_dump and the server; refuses a mismatch, which would make dumps that only some tools restore. */
async function checkVersions(ctx: JobContext, pgDump: string) {
  const [pgDumpVersion, { rows }] = await Promise.all([
    toolVersion(pgDump),
    ctx.db.query<{ num: number; version: string; size: number }>(
      `SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version,
              pg_database_size(current_database()) AS size`),
  ]);
  const server = rows[0]!;
  const serverMajor = Math.floor(server.num / 10_000);
  if (majorOf(pgDumpVersion) !== serverMajor) {
    throw new PermanentJobError(
      `pg_dump ${pgDumpVersion} does not match the server's major version ${serverMajor} (server ${server.version}): `
      + `install the PostgreSQL ${serverMajor} client tools (Debian: postgresql-client-${serverMajor}) and set PG_BIN_DIR to their bin directory`);
  }
  return { pgDumpVersion, server };
}

/**
 * Cleans up after runs that died mid-dump. Called with the export lock held, so no live
 * export exists: every 'running' row is dead and every unfinished upload is an orphan.
 */
async function cleanUpInterrupted(ctx: JobContext): Promise<{ rows: number; uploads: number }> {
  const bucket = ctx.config.backupBucket;
  const stale = await runningBackups(ctx.db);
  const { aborted } = await abortUnfinishedUploads(ctx.s3, bucket, BACKUP_PREFIX, ctx.log);
  // The dump may even have completed before the worker died; without a completed row it is not a backup.
  for (const row of stale) await deleteObjects(ctx.s3, bucket, [row.object_key, manifestKey(row.id)]);
  await markFailed(ctx.db, stale.map((r) => r.id), 'interrupted: the worker stopped mid-backup (crash, kill or lost connection); a later run aborted its upload');
  if (stale.length) ctx.log.warn({ backups: stale.map((r) => r.id) }, 'marked interrupted backups failed');
  return { rows: stale.length, uploads: aborted.length };
}

export async function exportBackup(payload: BackupExportPayload, ctx: JobContext): Promise<BackupExportResult> {
  const jobId = `${ctx.job.queue}:${ctx.job.id}`;
  // A redelivered job whose backup already completed returns that backup, not a second one.
  const done = await completedByJob(ctx.db, jobId);
  if (done) return resultOf(done);

  const pgDump = pgBinary('pg_dump', ctx.config.pgBinDir);
  const { pgDumpVersion, server } = await checkVersions(ctx, pgDump);
  const encryptionKey = ctx.config.backupEncryptionKey ? parseEncryptionKey(ctx.config.backupEncryptionKey) : undefined;
  const bucket = ctx.config.backupBucket;
  // S3 allows 10,000 parts: grow parts for very large databases (the dump is smaller than the database).
  const partSize = Math.max(ctx.config.backupUpload.partSizeMb * 1024 * 1024, Math.ceil(server.size / 9_000));

  const lock = await takeLock(ctx.db, EXPORT_LOCK, 'backup-export');
  const client = lock.client;
  let id: string | undefined;
  let counting: Promise<Record<string, number>> | undefined;
  let countingDone = false;
  try {
    const cleaned = await cleanUpInterrupted(ctx);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The transaction idles while pg_dump works; a server-wide idle timeout must not end it.
    // Counts run beside pg_dump: one core is their fair share, parallel workers would take pg_dump's.
    await client.query(`SELECT set_config('idle_in_transaction_session_timeout', '0', true), set_config('max_parallel_workers_per_gather', '0', true)`);
    const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;

    let tables;
    if (payload.tables) {
      const { found, unknown } = await resolveTables(client, payload.tables);
      if (unknown.length) {
        const known = (await listTables(client)).map(tableKey);
        throw new PermanentJobError(`Unknown table${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Known tables: ${known.slice(0, 30).join(', ')}${known.length > 30 ? ', …' : ''}`);
      }
      tables = found;
    } else {
      tables = await listTables(client);
    }

    const started = new Date();
    id = newBackupId(started.getTime());
    const key = dumpKey(id);
    const tableFilter = payload.tables ? tables.map(tableKey) : null;
    await insertRunning(ctx.db, { id, kind: payload.kind, label: payload.label ?? null, key, jobId, tableFilter, encryptionKeyId: encryptionKey ? keyId(encryptionKey) : null });
    ctx.log.info({ backupId: id, key, kind: payload.kind, tables: tables.length, encrypted: Boolean(encryptionKey) }, 'backup started');

    // Counted in the exported snapshot, so they are exactly the rows pg_dump writes; run
    // while pg_dump works (this connection is otherwise idle). A schema dump holds no rows.
    counting = payload.kind === 'schema'
      ? Promise.resolve(Object.fromEntries(tables.map((t) => [tableKey(t), 0])))
      : countRows(client, tables);
    counting.then(() => { countingDone = true; }, () => { countingDone = true; });
    const { bytes, sha256 } = await dumpToS3({
      s3: ctx.s3, bucket, key, pgDump, databaseUrl: ctx.config.databaseUrl, snapshot, kind: payload.kind,
      tables: payload.tables ? tables : undefined, encryptionKey, partSize, parallel: ctx.config.backupUpload.parallel,
      signal: ctx.signal, onProgress: (b) => { void ctx.progress({ done: b, unit: 'bytes' }).catch(() => {}); },
    });
    const counts = await counting;
    await client.query('COMMIT');

    const finished = new Date();
    const durationMs = finished.getTime() - started.getTime();
    const manifest: Manifest = {
      format: MANIFEST_FORMAT, version: 1, backupId: id, kind: payload.kind, label: payload.label ?? null,
      database: databaseName(ctx.config.databaseUrl), tableFilter,
      startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationMs,
      serverVersion: server.version, serverVersionNum: server.num, pgDumpVersion, dumpFormat: 'custom',
      object: { key, bytes, sha256, sha256Of: 'stored-object' },
      tables: counts,
      encryption: encryptionKey ? { algorithm: 'AES-256-GCM', scheme: ENCRYPTION_SCHEME, chunkSize: DEFAULT_CHUNK_SIZE, keyId: keyId(encryptionKey) } : null,
    };
    const mKey = await writeManifest(ctx.s3, bucket, manifest);
    ctx.signal.throwIfAborted();
    if (!await markCompleted(ctx.db, id, { manifestKey: mKey, bytes, sha256, tables: counts, serverVersion: server.version, pgDumpVersion, finishedAt: finished, durationMs })) {
      throw new Error(`backup ${id} is no longer 'running' (marked failed by another run); discarding it`);
    }
    ctx.audit({ backupId: id, manifest, cleanedUp: cleaned });
    ctx.log.info({ backupId: id, bytes, durationMs }, 'backup completed');
    return { backupId: id, key, manifestKey: mKey, bytes, sha256, tables: counts, durationMs, encrypted: Boolean(encryptionKey) };
  } catch (err) {
    if (id) {
      // No completed row, no manifest, no object, no unfinished upload: nothing half-made survives.
      const failedId = id;
      await abortUnfinishedUploads(ctx.s3, bucket, dumpKey(failedId), ctx.log).catch(() => {});
      await deleteObjects(ctx.s3, bucket, [dumpKey(failedId), manifestKey(failedId)]).catch(() => {});
      await markFailed(ctx.db, [failedId], errorMessage(err)).catch((e: unknown) => ctx.log.error({ err: e }, 'could not mark backup failed'));
    }
    throw err;
  } finally {
    // A failed dump must not wait for row counts of a big database to finish.
    if (counting && !countingDone) await ctx.db.query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID]).catch(() => {});
    await client.query('ROLLBACK').catch(() => {});
    await lock.release();
    await refreshBackupMetrics(ctx.db).catch(() => {});
  }
}
