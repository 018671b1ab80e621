import { always, singleStatement, type Check } from '../check.ts';

// The runbook's "Inventory Synchronization Issues" reset reserved_quantity to 0, which
// forgets real reservations and oversells. Here reserved_quantity is recomputed from the
// active reservations instead. An item whose active reservations exceed its quantity stays
// negative after that (it is oversold): recomputing cannot fix it, so it is counted as
// `oversold` for a human (restock or cancel), not as `found`.
//
// Sequential scan on purpose: an index on available_quantity would make every ordinary
// quantity update a non-HOT update (migrations/0041). Reservations: stock_reservations_active_idx.

const ACTIVE_SUM = `(SELECT coalesce(sum(r.quantity), 0)::int FROM stock_reservations r WHERE r.inventory_id = i.id AND r.status = 'active')`;

const detectSql = `
SELECT count(*) FILTER (WHERE i.reserved_quantity <> a.reserved)::int AS found,
       count(*) FILTER (WHERE a.reserved > i.quantity)::int AS oversold
FROM inventory i
CROSS JOIN LATERAL (SELECT ${ACTIVE_SUM} AS reserved) a
WHERE i.available_quantity < 0`;

const FAULT = `i.available_quantity < 0 AND i.reserved_quantity <> ${ACTIVE_SUM}`;

const repairSql = `
WITH cand AS (
  SELECT i.id, i.quantity, i.reserved_quantity, i.status
  FROM inventory i
  WHERE i.id = ANY($2::bigint[]) AND ${FAULT}
  FOR NO KEY UPDATE SKIP LOCKED
),
fixed AS (
  UPDATE inventory i SET reserved_quantity = ${ACTIVE_SUM}
  FROM cand c WHERE i.id = c.id
  RETURNING i.id,
    jsonb_build_object('quantity', c.quantity, 'reserved_quantity', c.reserved_quantity,
                       'available_quantity', c.quantity - c.reserved_quantity, 'status', c.status) AS before,
    jsonb_build_object('quantity', i.quantity, 'reserved_quantity', i.reserved_quantity,
                       'available_quantity', i.available_quantity, 'status', i.status) AS after
),
audit AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $3, 'inventory', f.id::text, f.before, f.after, $1 FROM fixed f
  RETURNING 1
)
SELECT count(*)::int AS repaired FROM audit`;

const check: Check = {
  name: 'negative-available',
  description: 'Items with negative available quantity: reserved_quantity recomputed from active reservations (not reset to 0)',
  touchesInventory: true,
  detectSql,
  targetsSql: `SELECT i.id::text AS id FROM inventory i WHERE ${FAULT} LIMIT $1`,
  repairs: always,
  repairSql,
  repairBatch: singleStatement(repairSql),
};
export default check;
