import type { Pool } from '../../shared/db.ts';
import { quoteIdent } from '../../shared/db.ts';
import { IMAGE_TABLES } from '../../shared/image-keys.ts';

export interface References {
  /** `<table>/<id>/<sha256>` of every row's migrated image: all its variants are in use. */
  images: Set<string>;
  /** Keys that some row's URL points at directly (objects outside our key scheme too). */
  keys: Set<string>;
}

// Table names come from the fixed IMAGE_TABLES list, never from input.
export async function loadReferences(db: Pool, base: string): Promise<References> {
  const shaSql = IMAGE_TABLES.map((t) => `SELECT '${t}/' || id::text || '/' || image_source_sha256 AS ref FROM ${quoteIdent(t)} WHERE image_source_sha256 IS NOT NULL`).join(' UNION ALL ');
  const urlSql = [...IMAGE_TABLES.flatMap((t) => [`SELECT image_url AS u FROM ${quoteIdent(t)}`, `SELECT r2_url FROM ${quoteIdent(t)}`]), 'SELECT avatar_url FROM profiles'].join(' UNION ALL ');
  const [shas, urls] = await Promise.all([
    db.query<{ ref: string }>(shaSql),
    db.query<{ key: string }>(`SELECT DISTINCT substr(u, length($1) + 1) AS key FROM (${urlSql}) x WHERE starts_with(u, $1)`, [base]),
  ]);
  return { images: new Set(shas.rows.map((r) => r.ref)), keys: new Set(urls.rows.map((r) => r.key.split(/[?#]/)[0]!)) };
}

export interface ScanRow {
  bucket: string; graceHours: number; objects: number; found: number; orphaned: number; deleted: number; bytes: number; deletedBytes: number; jobId: string;
}

export async function recordScan(db: Pool, s: ScanRow): Promise<void> {
  await db.query(
    `INSERT INTO image_orphan_scans (bucket, grace_hours, objects, found, orphaned, deleted, bytes, deleted_bytes, job_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [s.bucket, s.graceHours, s.objects, s.found, s.orphaned, s.deleted, s.bytes, s.deletedBytes, s.jobId],
  );
}
