import { singleStatement, type Check } from '../check.ts';

// order_items.order_id has no FK on purpose (an order deleted outside the app leaves its
// items behind). Order items are financial records: reported by default, deleted (and
// audited with the whole row) only with removeOrphans.

const ORPHAN = `NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = oi.order_id)`;

const repairSql = `
WITH cand AS (
  SELECT oi.id FROM order_items oi WHERE oi.id = ANY($2::bigint[]) AND ${ORPHAN}
  FOR UPDATE SKIP LOCKED
),
gone AS (
  DELETE FROM order_items d USING cand WHERE d.id = cand.id
  RETURNING d.*
),
audit AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $3, 'order_item', g.id::text, to_jsonb(g), NULL, $1 FROM gone g
  RETURNING 1
)
SELECT count(*)::int AS repaired FROM audit`;

const check: Check = {
  name: 'orphaned-order-items',
  description: 'Order items whose order no longer exists: reported, or deleted with removeOrphans',
  touchesInventory: false,
  detectSql: `SELECT count(*)::int AS found FROM order_items oi WHERE ${ORPHAN}`,
  sampleSql: `SELECT oi.id::text AS id FROM order_items oi WHERE ${ORPHAN} ORDER BY oi.id LIMIT 20`,
  targetsSql: `SELECT oi.id::text AS id FROM order_items oi WHERE ${ORPHAN} LIMIT $1`,
  repairs: (options) => options.removeOrphans,
  repairSql,
  repairBatch: singleStatement(repairSql),
};
export default check;
