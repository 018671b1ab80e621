import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface BackupRow {
  id: string;
  kind: 'full' | 'schema' | 'data';
  label: string | null;
  object_key: string;
  manifest_key: string | null;
  bytes: number | null;
  sha256: string | null;
  status: 'running' | 'completed' | 'failed';
  tables: Record<string, number> | null;
  table_filter: string[] | null;
  server_version: string | null;
  pg_dump_version: string | null;
  encrypted: boolean;
  encryption_key_id: string | null;
  job_id: string | null;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  verified_at: Date | null;
  verify_result: { ok: boolean; [k: string]: unknown } | null;
  restore_duration_ms: number | null;
  error: string | null;
}

export async function completedByJob(db: Queryable, jobId: string): Promise<BackupRow | undefined> {
  const { rows } = await db.query<BackupRow>(`SELECT * FROM backups WHERE job_id = $1 AND status = 'completed'`, [jobId]);
  return rows[0];
}

export async function insertRunning(db: Queryable, b: { id: string; kind: string; label: string | null; key: string; jobId: string; tableFilter: string[] | null; encryptionKeyId: string | null }): Promise<void> {
  await db.query(
    `INSERT INTO backups (id, kind, label, object_key, job_id, table_filter, encrypted, encryption_key_id, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running')`,
    [b.id, b.kind, b.label, b.key, b.jobId, b.tableFilter, b.encryptionKeyId !== null, b.encryptionKeyId]);
}

export async function markCompleted(db: Queryable, id: string, b: {
  manifestKey: string; bytes: number; sha256: string; tables: Record<string, number>; serverVersion: string; pgDumpVersion: string; finishedAt: Date; durationMs: number;
}): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE backups SET status = 'completed', manifest_key = $2, bytes = $3, sha256 = $4, tables = $5, server_version = $6,
       pg_dump_version = $7, finished_at = $8, duration_ms = $9, error = NULL
     WHERE id = $1 AND status = 'running'`,
    [id, b.manifestKey, b.bytes, b.sha256, JSON.stringify(b.tables), b.serverVersion, b.pgDumpVersion, b.finishedAt, b.durationMs]);
  return rowCount === 1;
}

export async function markFailed(db: Queryable, ids: string[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE backups SET status = 'failed', error = $2, finished_at = now(),
       duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
     WHERE id = ANY($1::uuid[]) AND status = 'running'`,
    [ids, error.slice(0, 4_000)]);
}

export async function runningBackups(db: Queryable): Promise<Pick<BackupRow, 'id' | 'object_key' | 'manifest_key'>[]> {
  const { rows } = await db.query(`SELECT id, object_key, manifest_key FROM backups WHERE status = 'running'`);
  return rows;
}

export async function findBackup(db: Queryable, id: string): Promise<BackupRow | undefined> {
  const { rows } = await db.query<BackupRow>('SELECT * FROM backups WHERE id = $1', [id]);
  return rows[0];
}

/** The newest completed backup of the whole database (what "latest" means for verify and restore). */
export async function latestFullBackup(db: Queryable): Promise<BackupRow | undefined> {
  const { rows } = await db.query<BackupRow>(
    `SELECT * FROM backups WHERE status = 'completed' AND kind = 'full' AND table_filter IS NULL ORDER BY started_at DESC, id DESC LIMIT 1`);
  return rows[0];
}

export async function recordVerification(db: Queryable, id: string, ok: boolean, result: unknown, restoreMs: number | null): Promise<void> {
  // verified_at moves only on success: it answers "when was this backup last proven restorable".
  await db.query(
    `UPDATE backups SET verify_result = $2, restore_duration_ms = COALESCE($3, restore_duration_ms),
       verified_at = CASE WHEN $4 THEN now() ELSE verified_at END
     WHERE id = $1`,
    [id, JSON.stringify(result), restoreMs, ok]);
}

export async function listBackups(db: Queryable, limit: number): Promise<BackupRow[]> {
  const { rows } = await db.query<BackupRow>('SELECT * FROM backups ORDER BY started_at DESC, id DESC LIMIT $1', [limit]);
  return rows;
}

export interface RetentionRow { id: string; started_at: Date; verified: boolean; object_key: string; manifest_key: string | null }

export async function completedForRetention(db: Queryable): Promise<RetentionRow[]> {
  const { rows } = await db.query<RetentionRow>(
    `SELECT id, started_at, COALESCE((verify_result->>'ok')::boolean, false) AND verified_at IS NOT NULL AS verified, object_key, manifest_key
     FROM backups WHERE status = 'completed' ORDER BY started_at DESC, id DESC`);
  return rows;
}

export async function failedOlderThan(db: Queryable, before: Date): Promise<RetentionRow[]> {
  const { rows } = await db.query<RetentionRow>(
    `SELECT id, started_at, false AS verified, object_key, manifest_key FROM backups WHERE status = 'failed' AND started_at < $1`, [before]);
  return rows;
}

export async function deleteBackupRows(db: Queryable, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await db.query(`DELETE FROM backups WHERE id = ANY($1::uuid[]) AND status <> 'running'`, [ids]);
  return rowCount ?? 0;
}

export interface MetricsState { last_success: Date | null; last_bytes: number | null; last_verified: Date | null; last_restore_ms: number | null }

export async function metricsState(db: Queryable): Promise<MetricsState> {
  const { rows } = await db.query<MetricsState>(
    `SELECT (SELECT finished_at FROM backups WHERE status = 'completed' ORDER BY finished_at DESC LIMIT 1) AS last_success,
            (SELECT bytes FROM backups WHERE status = 'completed' ORDER BY finished_at DESC LIMIT 1) AS last_bytes,
            (SELECT max(verified_at) FROM backups WHERE verified_at IS NOT NULL) AS last_verified,
            (SELECT restore_duration_ms FROM backups WHERE verified_at IS NOT NULL ORDER BY verified_at DESC LIMIT 1) AS last_restore_ms`);
  return rows[0]!;
}
