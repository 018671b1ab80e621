import type { PoolClient } from '../../shared/db.ts';
import { quoteIdent } from '../../shared/db.ts';

/** One reading of everything the monitor takes from PostgreSQL. */
export interface DbSnapshot {
  sizeBytes: number;
  /** pg_stat_activity state (raw, null → "unknown") → client connections. */
  connections: Record<string, number>;
  longestQuerySeconds: number;
  rollbacks: number;
  lowStock: number;
  outOfStock: number;
  sessionsActive: number;
  failedLogins: number;
  adminUsers: number;
  /** null: no orphan scan recorded (or the images job's table is not installed). */
  imagesOrphaned: number | null;
  /** queue → epoch seconds of the latest completed run; 0 = never. */
  lastSuccess: Record<string, number>;
  backup: { lastSuccess: number; sizeBytes: number | null; lastVerified: number; restoreSeconds: number | null };
}

// One statement, one round trip. Each subquery is an index lookup or a small aggregate:
// - the inventory counts use the partial index on status <> 'in_stock' (0001);
// - the last success per queue is one row per queue in job_queue_last_success (0090);
// - the latest backup uses backups_status_started_idx.
// Connections count the whole server (max_connections is per server); the longest query
// looks at the fleet's database only, and leaves out pg_dump/pg_restore: the nightly
// backup's COPY is expected to run long and must not page anyone.
export const SNAPSHOT_SQL = `
SELECT
  pg_database_size(current_database()) AS size_bytes,
  (SELECT coalesce(json_object_agg(state, n), '{}'::json)
     FROM (SELECT coalesce(state, 'unknown') AS state, count(*) AS n
             FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1) s) AS connections,
  (SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)::float8
     FROM pg_stat_activity
    WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database()
      AND coalesce(application_name, '') NOT IN ('pg_dump', 'pg_restore')) AS longest_query_seconds,
  (SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()) AS rollbacks,
  (SELECT count(*) FROM inventory WHERE status = 'low_stock' AND is_active) AS low_stock,
  (SELECT count(*) FROM inventory WHERE status = 'out_of_stock' AND is_active) AS out_of_stock,
  (SELECT count(*) FROM admin_tokens
    WHERE kind = 'session' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) AS sessions_active,
  (SELECT count(*) FROM admin_security_events WHERE kind = 'login_failed') AS failed_logins,
  (SELECT count(*) FROM admin_users WHERE is_active) AS admin_users,
  (SELECT coalesce(json_object_agg(q.queue, coalesce(extract(epoch FROM last.finished_at), 0)), '{}'::json)
     FROM unnest($1::text[]) AS q(queue)
     LEFT JOIN job_queue_last_success last ON last.queue = q.queue) AS last_success,
  (SELECT json_build_object('finished', extract(epoch FROM b.finished_at), 'bytes', b.bytes)
     FROM backups b WHERE b.status = 'completed' ORDER BY b.started_at DESC LIMIT 1) AS last_backup,
  -- A drill that recorded {"ok": false} did not verify anything.
  (SELECT json_build_object('verified', extract(epoch FROM b.verified_at), 'restore_ms', b.restore_duration_ms)
     FROM backups b
    WHERE b.verified_at IS NOT NULL AND b.verify_result->'ok' IS DISTINCT FROM 'false'::jsonb
    ORDER BY b.verified_at DESC LIMIT 1) AS last_verified`;

interface SnapshotRow {
  size_bytes: number;
  connections: Record<string, number>;
  longest_query_seconds: number;
  rollbacks: number | null;
  low_stock: number;
  out_of_stock: number;
  sessions_active: number;
  failed_logins: number;
  admin_users: number;
  last_success: Record<string, number>;
  last_backup: { finished: number | null; bytes: number | null } | null;
  last_verified: { verified: number; restore_ms: number | null } | null;
}

const ORPHAN_TABLE = 'image_orphan_scans';
/** Columns that order the scans, newest first; the first one present is used. */
const ORPHAN_ORDER_COLUMNS = ['finished_at', 'completed_at', 'scanned_at', 'created_at', 'started_at', 'id'];
const NUMERIC_TYPES = new Set(['smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision']);

/**
 * The latest orphan scan's count. The table belongs to the images job (a later migration),
 * so its presence and columns are read from the catalog, and identifiers are quoted.
 */
async function latestOrphanCount(client: PoolClient): Promise<number | null> {
  const { rows } = await client.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, [ORPHAN_TABLE]);
  const columns = new Map(rows.map((r) => [r.name, r.type]));
  const countType = columns.get('orphaned');
  const order = ORPHAN_ORDER_COLUMNS.find((c) => columns.has(c));
  if (!countType || !NUMERIC_TYPES.has(countType) || !order) return null;
  const { rows: latest } = await client.query<{ n: number }>(
    `SELECT ${quoteIdent('orphaned')}::float8 AS n FROM ${quoteIdent(ORPHAN_TABLE)}
      WHERE ${quoteIdent('orphaned')} IS NOT NULL ORDER BY ${quoteIdent(order)} DESC NULLS LAST LIMIT 1`);
  return latest[0]?.n ?? null;
}

/** Reads the snapshot on a client already inside the monitor's read-only transaction. */
export async function readDatabase(client: PoolClient, scheduledQueues: readonly string[]): Promise<DbSnapshot> {
  const { rows } = await client.query<SnapshotRow>(SNAPSHOT_SQL, [scheduledQueues]);
  const r = rows[0]!;
  return {
    sizeBytes: r.size_bytes,
    connections: r.connections,
    longestQuerySeconds: r.longest_query_seconds,
    rollbacks: r.rollbacks ?? 0,
    lowStock: r.low_stock,
    outOfStock: r.out_of_stock,
    sessionsActive: r.sessions_active,
    failedLogins: r.failed_logins,
    adminUsers: r.admin_users,
    imagesOrphaned: await latestOrphanCount(client),
    lastSuccess: r.last_success,
    backup: {
      lastSuccess: r.last_backup?.finished ?? 0,
      sizeBytes: r.last_backup?.bytes ?? null,
      lastVerified: r.last_verified?.verified ?? 0,
      restoreSeconds: r.last_verified?.restore_ms == null ? null : r.last_verified.restore_ms / 1000,
    },
  };
}
