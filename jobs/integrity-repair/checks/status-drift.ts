import { always, singleStatement, type Check } from '../check.ts';

// status is kept by a BEFORE trigger; it drifts only when the trigger was bypassed
// (session_replication_role = replica, a disabled trigger, a restore). A sequential scan
// on purpose (a repairing run makes one pass: the targets it lists are what it found): a
// partial index on the drift predicate would read quantity columns and make every
// ordinary quantity update non-HOT (migrations/0041).

const DRIFTED = `status <> inventory_status_for(quantity, reserved_quantity, low_stock_threshold)`;

const repairSql = `
WITH cand AS (
  SELECT id, status FROM inventory
  WHERE id = ANY($2::bigint[]) AND ${DRIFTED}
  FOR NO KEY UPDATE SKIP LOCKED
),
fixed AS (
  UPDATE inventory i SET status = inventory_status_for(i.quantity, i.reserved_quantity, i.low_stock_threshold)
  FROM cand c WHERE i.id = c.id
  RETURNING i.id,
    jsonb_build_object('status', c.status) AS before,
    jsonb_build_object('status', i.status, 'quantity', i.quantity, 'reserved_quantity', i.reserved_quantity,
                       'available_quantity', i.available_quantity, 'low_stock_threshold', i.low_stock_threshold) AS after
),
audit AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $3, 'inventory', f.id::text, f.before, f.after, $1 FROM fixed f
  RETURNING 1
)
SELECT count(*)::int AS repaired FROM audit`;

const check: Check = {
  name: 'status-drift',
  description: 'Items whose status disagrees with the status rule (trigger bypassed): status recomputed',
  touchesInventory: true,
  detectSql: `SELECT count(*)::int AS found FROM inventory WHERE ${DRIFTED}`,
  targetsSql: `SELECT id::text AS id FROM inventory WHERE ${DRIFTED} LIMIT $1`,
  foundIsTargetCount: true,
  repairs: always,
  repairSql,
  repairBatch: singleStatement(repairSql),
};
export default check;
