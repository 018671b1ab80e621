import type { Command, Io } from '../command.ts';
import { parse, UsageError } from '../command.ts';
import { fromEnv, type Config } from '../../shared/config.ts';
import { createPool, databaseName } from '../../shared/db.ts';
import { resolveS3, type S3Client } from '../../shared/s3.ts';
import { maskUrlCredentials } from '../../shared/redact.ts';
import { isBackupId } from '../../jobs/backup/keys.ts';
import { listManifestIds, readManifest, type Manifest } from '../../jobs/backup/manifest.ts';
import { listBackups, type BackupRow } from '../../jobs/backup/queries.ts';
import { compareCounts, restoreBackup } from '../../jobs/backup/restore.ts';

async function withS3<T>(config: Config, fn: (s3: S3Client) => Promise<T>): Promise<T> {
  const { client, embedded } = await resolveS3(config);
  try {
    return await fn(client);
  } finally {
    client.destroy();
    await embedded?.close();
  }
}

const mb = (bytes: number | null) => (bytes === null ? '-' : `${(bytes / 1e6).toFixed(1)} MB`);

function table(io: Io, head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) io.out(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

async function list(io: Io, config: Config, values: { limit?: string; json?: boolean; bucket?: boolean }): Promise<number> {
  const limit = values.limit === undefined ? 30 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be an integer from 1 to 10000');
  if (values.bucket) {
    // From the manifests alone: works when the database that holds the backups table is gone.
    const manifests = await withS3(config, async (s3) => {
      const ids = (await listManifestIds(s3, config.backupBucket)).reverse().slice(0, limit);
      return Promise.all(ids.map((id) => readManifest(s3, config.backupBucket, id)));
    });
    if (values.json) { io.out(JSON.stringify(manifests, null, 2)); return 0; }
    if (!manifests.length) { io.out(`no backups in bucket ${config.backupBucket}`); return 0; }
    table(io, ['id', 'kind', 'started', 'size', 'tables', 'rows', 'encrypted', 'label'], manifests.map((m) => [
      m.backupId, m.kind + (m.tableFilter ? ' (partial)' : ''), m.startedAt, mb(m.object.bytes), String(Object.keys(m.tables).length),
      String(Object.values(m.tables).reduce((a, b) => a + b, 0)), m.encryption ? 'yes' : 'no', m.label ?? '',
    ]));
    return 0;
  }
  const db = createPool(config.databaseUrl, { max: 1, applicationName: 'stockroom-fleet:cli' });
  let rows: BackupRow[];
  try {
    rows = await listBackups(db, limit);
  } catch (err) {
    throw new Error(`cannot read the backups table (${(err as Error).message}); "fleet backup list --bucket" lists the backups from BACKUP_BUCKET alone`, { cause: err });
  } finally {
    await db.end();
  }
  if (values.json) { io.out(JSON.stringify(rows, null, 2)); return 0; }
  if (!rows.length) { io.out('no backups yet (fleet enqueue backup-export --wait)'); return 0; }
  table(io, ['id', 'status', 'kind', 'started', 'duration', 'size', 'verified', 'restore', 'label'], rows.map((r) => [
    r.id, r.status, r.kind + (r.table_filter ? ' (partial)' : ''), r.started_at.toISOString(),
    r.duration_ms === null ? '-' : `${(r.duration_ms / 1000).toFixed(1)} s`, mb(r.bytes),
    r.verify_result ? `${r.verify_result.ok ? 'ok' : 'FAILED'} ${(r.verified_at ?? r.started_at).toISOString().slice(0, 10)}` : '-',
    r.restore_duration_ms === null ? '-' : `${(r.restore_duration_ms / 1000).toFixed(1)} s`,
    r.status === 'failed' ? (r.error ?? '').slice(0, 60) : (r.label ?? ''),
  ]));
  return 0;
}

/** "latest" is the newest whole-database full backup; partial and schema/data-only ones need their id. */
async function findManifest(s3: S3Client, bucket: string, which: string): Promise<Manifest> {
  if (which !== 'latest') return readManifest(s3, bucket, which);
  const ids = (await listManifestIds(s3, bucket)).reverse();
  for (const id of ids) {
    const m = await readManifest(s3, bucket, id);
    if (m.kind === 'full' && m.tableFilter === null) return m;
  }
  throw new Error(`no full backup in bucket ${bucket}`);
}

async function restore(io: Io, config: Config, which: string, values: { target?: string; clean?: boolean; jobs?: string; 'temp-dir'?: string }): Promise<number> {
  if (which !== 'latest' && !isBackupId(which)) throw new UsageError(`"${which}" is not a backup id (a UUID from "fleet backup list") or "latest"`);
  if (!values.target) throw new UsageError('--target <database-url> is required');
  try {
    if (!/^postgres(ql)?:$/.test(new URL(values.target).protocol)) throw new Error('protocol');
    databaseName(values.target);
  } catch {
    throw new UsageError('--target must be a postgres:// URL naming a database, e.g. postgres://user@host:5432/restored');
  }
  const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError('--jobs must be an integer from 1 to 64');
  const target = maskUrlCredentials(values.target);

  return withS3(config, async (s3) => {
    const manifest = await findManifest(s3, config.backupBucket, which);
    io.err(`backup ${manifest.backupId} (${manifest.kind}, ${manifest.startedAt}, ${mb(manifest.object.bytes)}${manifest.encryption ? ', encrypted' : ''}) → ${target}`);
    const outcome = await restoreBackup({
      s3, bucket: config.backupBucket, manifest, targetUrl: values.target!, createTarget: true, clean: values.clean, jobs,
      encryptionKey: config.backupEncryptionKey, pgBinDir: config.pgBinDir, tmpDir: values['temp-dir'],
      onPhase: (phase, detail) => io.err(`${phase}: ${detail}`),
    });
    const counts = await compareCounts(values.target!, manifest);
    io.err(`restored in ${(outcome.durationMs / 1000).toFixed(1)} s (check ${(outcome.checkMs / 1000).toFixed(1)} s, pg_restore ${(outcome.restoreMs / 1000).toFixed(1)} s); `
      + (counts.ok ? `row counts of all ${counts.tables} tables match the manifest` : `${counts.mismatches.length} table(s) differ from the manifest`));
    for (const m of counts.mismatches.slice(0, 20)) io.err(`  ${m.table}: expected ${m.expected ?? 'no table'}, restored ${m.actual ?? 'no table'}`);
    io.out(JSON.stringify({
      backupId: manifest.backupId, target, mode: outcome.mode, durationMs: Math.round(outcome.durationMs),
      tables: counts.tables, rows: counts.rows, countsMatch: counts.ok, mismatches: counts.mismatches,
    }));
    return counts.ok ? 0 : 1;
  });
}

export const backupCommand: Command = {
  name: 'backup',
  summary: 'List backups, or restore one into a database',
  help: `Usage: fleet backup list [--limit N] [--json] [--bucket]
       fleet backup restore <id|latest> --target <database-url> [--clean] [--jobs N] [--temp-dir DIR]

list      backups from the backups table, newest first: status, size, duration, last
          verification. --bucket lists the manifests in BACKUP_BUCKET instead, which works
          when the database holding the backups table is the thing that was lost.
restore   fetches the backup from BACKUP_BUCKET (no database needed but the target), checks
          its sha256 against the manifest BEFORE anything is written, decrypts it
          (BACKUP_ENCRYPTION_KEY), and runs pg_restore; then compares every table's row
          count with the manifest (exit 1 if they differ).
  latest        the newest full backup of the whole database
  --target      database to restore into; created when missing. Refused when it already
                holds tables, unless --clean
  --clean       drop and recreate the backup's objects in a non-empty target
  --jobs N      parallel pg_restore; the backup is spooled to a temp file (needs its size
                on disk). With 1 (default) it streams twice from storage instead (check,
                then restore in one transaction) and needs no disk
  --temp-dir    where the spool file goes with --jobs > 1 [system temp dir]

Examples:
  fleet backup list
  fleet backup restore latest --target postgres://postgres@db.internal:5432/stockroom_restored
  fleet backup restore 0191e4d2-7c7a-7b3e-9f3c-2a1b0c9d8e7f --target "$DATABASE_URL" --clean --jobs 4`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      limit: { type: 'string' }, json: { type: 'boolean' }, bucket: { type: 'boolean' },
      target: { type: 'string' }, clean: { type: 'boolean' }, jobs: { type: 'string' }, 'temp-dir': { type: 'string' },
    });
    const [sub, which, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument: ${extra[0]}`);
    const config = fromEnv(io.env);
    if (sub === 'list') {
      if (which) throw new UsageError(`unexpected argument: ${which}`);
      return list(io, config, values);
    }
    if (sub === 'restore') {
      if (!which) throw new UsageError('which backup? (fleet backup restore <id|latest> --target <database-url>)');
      return restore(io, config, which, values);
    }
    throw new UsageError(sub ? `unknown subcommand "${sub}" (list or restore)` : 'list or restore?');
  },
};
