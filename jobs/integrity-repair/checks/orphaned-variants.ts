import { singleStatement, type Check } from '../check.ts';

// product_variants.product_id has no FK on purpose (catalogue syncs replace products).
// Reported by default; deleted (audited with the whole row) only with removeOrphans.

const ORPHAN = `NOT EXISTS (SELECT 1 FROM products p WHERE p.id = v.product_id)`;

const repairSql = `
WITH cand AS (
  SELECT v.id FROM product_variants v WHERE v.id = ANY($2::bigint[]) AND ${ORPHAN}
  FOR UPDATE SKIP LOCKED
),
gone AS (
  DELETE FROM product_variants d USING cand WHERE d.id = cand.id
  RETURNING d.*
),
audit AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $3, 'product_variant', g.id::text, to_jsonb(g), NULL, $1 FROM gone g
  RETURNING 1
)
SELECT count(*)::int AS repaired FROM audit`;

const check: Check = {
  name: 'orphaned-variants',
  description: 'Product variants whose product no longer exists: reported, or deleted with removeOrphans',
  touchesInventory: false,
  detectSql: `SELECT count(*)::int AS found FROM product_variants v WHERE ${ORPHAN}`,
  sampleSql: `SELECT v.id::text AS id FROM product_variants v WHERE ${ORPHAN} ORDER BY v.id LIMIT 20`,
  targetsSql: `SELECT v.id::text AS id FROM product_variants v WHERE ${ORPHAN} LIMIT $1`,
  repairs: (options) => options.removeOrphans,
  repairSql,
  repairBatch: singleStatement(repairSql),
};
export default check;
