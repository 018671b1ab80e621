import { always, singleStatement, type Check } from '../check.ts';
// Shared SQL of the two checks that release stale active reservations (expired ones, and
// those of cancelled orders). `stale` is a constant predicate on reservation `r` from the
// check's own module, never input.
//
// Targets are inventory items with stale reservations. A batch locks its items (SKIP
// LOCKED: an item an ordinary update holds is left for the next run), releases their stale
// reservations and recomputes their reserved_quantity from what stays active.
// Parameters: $1 job id, $2 item ids, $3 check name. All CTEs read one snapshot, so
// "stays active" = active now − released here.

export function releaseDetectSql(stale: string): string {
  return `SELECT count(*)::int AS found FROM stock_reservations r WHERE ${stale}`;
}

export function releaseTargetsSql(stale: string): string {
  return `SELECT DISTINCT r.inventory_id::text AS id FROM stock_reservations r WHERE ${stale} LIMIT $1`;
}

export function releaseRepairSql(stale: string): string {
  return `
WITH items AS (
  SELECT i.id, i.quantity, i.reserved_quantity, i.status
  FROM inventory i
  WHERE i.id = ANY($2::bigint[])
  FOR NO KEY UPDATE SKIP LOCKED
),
released AS (
  UPDATE stock_reservations r SET status = 'released'
  FROM items
  WHERE r.inventory_id = items.id AND ${stale}
  RETURNING r.id, r.inventory_id, r.order_id, r.quantity, r.expires_at, r.created_at
),
released_sum AS (
  SELECT inventory_id, sum(quantity)::int AS quantity FROM released GROUP BY inventory_id
),
recomputed AS (
  SELECT items.*,
         (SELECT coalesce(sum(a.quantity), 0)::int FROM stock_reservations a WHERE a.inventory_id = items.id AND a.status = 'active')
           - rel.quantity AS reserved
  FROM items JOIN released_sum rel ON rel.inventory_id = items.id
),
inv AS (
  UPDATE inventory i SET reserved_quantity = rc.reserved
  FROM recomputed rc
  WHERE i.id = rc.id AND i.reserved_quantity <> rc.reserved
  RETURNING i.id,
    jsonb_build_object('quantity', rc.quantity, 'reserved_quantity', rc.reserved_quantity,
                       'available_quantity', rc.quantity - rc.reserved_quantity, 'status', rc.status) AS before,
    jsonb_build_object('quantity', i.quantity, 'reserved_quantity', i.reserved_quantity,
                       'available_quantity', i.available_quantity, 'status', i.status) AS after
),
audit_reservations AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $3, 'stock_reservation', r.id::text,
         jsonb_build_object('status', 'active', 'inventory_id', r.inventory_id, 'order_id', r.order_id,
                            'quantity', r.quantity, 'expires_at', r.expires_at, 'created_at', r.created_at),
         jsonb_build_object('status', 'released'),
         $1
  FROM released r
  RETURNING 1
),
audit_inventory AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $3, 'inventory', inv.id::text, inv.before, inv.after, $1 FROM inv
  RETURNING 1
)
SELECT (SELECT count(*) FROM audit_reservations)::int AS repaired,
       (SELECT count(*) FROM audit_inventory)::int AS "inventoryRecomputed"`;
}

/** A check that releases the active reservations matching `stale` and recomputes the items' reserved quantity. */
export function releaseCheck(name: string, description: string, stale: string): Check {
  const repair = releaseRepairSql(stale);
  return {
    name,
    description,
    touchesInventory: true,
    detectSql: releaseDetectSql(stale),
    targetsSql: releaseTargetsSql(stale),
    repairs: always,
    repairSql: repair,
    repairBatch: singleStatement(repair),
  };
}
