import type { Pool, PoolClient } from '../../shared/db.ts';
import { quoteIdent } from '../../shared/db.ts';
import { IMAGE_TABLE_SPECS, type ImageTable } from '../../shared/image-keys.ts';

/** Failures of one source that scheduled runs stop retrying (a permanent one counts at once). */
export const MAX_TRANSIENT_ATTEMPTS = 5;

export interface Candidate {
  table: ImageTable;
  id: string;
  imageUrl: string | null;
  r2Url: string | null;
  /** The URL to download, or null when the row has no usable source. */
  source: string | null;
  /** Not migrated yet, or its image_url was replaced by a non-canonical URL since. */
  pending: boolean;
}

// Table names below come from IMAGE_TABLES (a fixed list the payload is validated against),
// id types from IMAGE_TABLE_SPECS: neither is ever taken from input.

/**
 * The source of a row: r2_url, else image_url unless it already points at our bucket, else
 * the URL recorded at the last migration (for forced re-runs). A migrated row whose
 * image_url was since replaced by another URL takes that new URL.
 */
function candidateSql(table: ImageTable, where: string): string {
  return `
    SELECT id::text AS id, image_url, r2_url, source, pending
    FROM (
      SELECT t.id, t.image_url, t.r2_url, t.image_migrated_at,
        (t.image_migrated_at IS NULL OR NOT starts_with(coalesce(t.image_url, ''), $1)) AS pending,
        CASE
          WHEN t.image_migrated_at IS NOT NULL AND nullif(t.image_url, '') IS NOT NULL AND NOT starts_with(t.image_url, $1)
            THEN t.image_url
          ELSE coalesce(nullif(t.r2_url, ''), CASE WHEN starts_with(t.image_url, $1) THEN NULL ELSE nullif(t.image_url, '') END, t.image_source_url)
        END AS source
      FROM ${quoteIdent(table)} t
      ${where}
    ) c`;
}

type Row = { id: string; image_url: string | null; r2_url: string | null; source: string | null; pending: boolean };
const toCandidate = (table: ImageTable) => (r: Row): Candidate => ({
  table, id: r.id, imageUrl: r.image_url, r2Url: r.r2_url, source: r.source, pending: r.pending,
});

/** Rows to migrate in a scan: oldest migration first, so forced runs walk the whole table. */
export async function pendingRows(db: Pool, table: ImageTable, base: string, opts: { limit: number; force: boolean }): Promise<Candidate[]> {
  const { rows } = await db.query<Row>(`${candidateSql(table, '')}
    WHERE c.source IS NOT NULL
      AND ($3 OR c.pending)
      AND ($3 OR NOT EXISTS (
        SELECT 1 FROM image_migration_failures f
        WHERE f.table_name = $4 AND f.row_id = c.id::text AND f.source_url = c.source
          AND (f.permanent OR f.attempts >= $5)))
    ORDER BY c.image_migrated_at NULLS FIRST, c.id
    LIMIT $2`, [base, opts.limit, opts.force, table, MAX_TRANSIENT_ATTEMPTS]);
  return rows.map(toCandidate(table));
}

/** The named rows, whatever their state; the caller decides what to do with each. */
export async function rowsById(db: Pool, table: ImageTable, base: string, ids: string[]): Promise<Candidate[]> {
  const { idType } = IMAGE_TABLE_SPECS[table];
  const { rows } = await db.query<Row>(`${candidateSql(table, `WHERE t.id = ANY($2::${idType}[])`)} ORDER BY c.id`, [base, ids]);
  return rows.map(toCandidate(table));
}

export interface MigratedRow { id: string; url: string; sha256: string; source: string; oldImageUrl: string | null; oldR2Url: string | null }

/**
 * Points rows at their new objects, in one statement per table. A row whose image columns
 * changed since it was read is left alone (and reported skipped): its new image is picked up
 * by the next run. Returns the ids updated.
 */
export async function markMigrated(db: Pool, table: ImageTable, rows: MigratedRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const { idType } = IMAGE_TABLE_SPECS[table];
  const { rows: updated } = await db.query<{ id: string }>(
    `WITH done AS (
       UPDATE ${quoteIdent(table)} t
       SET image_url = u.url, image_migrated_at = now(), image_source_sha256 = u.sha, image_source_url = u.source
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(id, url, sha, source, old_image_url, old_r2_url)
       WHERE t.id = u.id::${idType}
         AND t.image_url IS NOT DISTINCT FROM u.old_image_url
         AND t.r2_url IS NOT DISTINCT FROM u.old_r2_url
       RETURNING t.id::text AS id
     ), cleared AS (
       DELETE FROM image_migration_failures f USING done WHERE f.table_name = $7 AND f.row_id = done.id
     )
     SELECT id FROM done`,
    [rows.map((r) => r.id), rows.map((r) => r.url), rows.map((r) => r.sha256), rows.map((r) => r.source),
      rows.map((r) => r.oldImageUrl), rows.map((r) => r.oldR2Url), table],
  );
  return new Set(updated.map((r) => r.id));
}

export interface FailureRow { table: ImageTable; id: string; source: string; reason: string; permanent: boolean }

/** Records image failures; the same source failing again counts another attempt. */
export async function recordFailures(db: Pool | PoolClient, failures: FailureRow[]): Promise<void> {
  if (failures.length === 0) return;
  await db.query(
    `INSERT INTO image_migration_failures AS f (table_name, row_id, source_url, reason, permanent)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[])
     ON CONFLICT (table_name, row_id) DO UPDATE SET
       attempts = CASE WHEN f.source_url = EXCLUDED.source_url THEN f.attempts + 1 ELSE 1 END,
       first_failed_at = CASE WHEN f.source_url = EXCLUDED.source_url THEN f.first_failed_at ELSE now() END,
       source_url = EXCLUDED.source_url, reason = EXCLUDED.reason, permanent = EXCLUDED.permanent, last_failed_at = now()`,
    [failures.map((f) => f.table), failures.map((f) => f.id), failures.map((f) => f.source), failures.map((f) => f.reason), failures.map((f) => f.permanent)],
  );
}
