import { always, type Check, type RepairBatch } from '../check.ts';

// Duplicates: rows of one external_id whose variant keys are equal once case and all
// whitespace are ignored (inventory_variant_canonical: "Color:Gold" = "color: gold"). The
// unique (external_id, variant_key) cannot stop those, e.g. when an older import or a hand
// edit normalised differently. Attributes are not compared: variant_key is derived from
// them (SPEC §4), so equal attributes mean equal keys up to that normalisation.
//
// Merge: the oldest row (lowest id) survives. It gets the sum of quantity and of
// reserved_quantity, stays active if any row was, keeps its own title/price/threshold and
// takes image_url/r2_url/store_name from a duplicate only where it has none. Every
// reference moves to it: stock_movements, stock_reservations, stock_alerts (a duplicate's
// open alert is resolved, as the survivor may have its own; stock-alerts re-evaluates the
// survivor right after) and order_items.inventory_id. Then the duplicates are deleted.
// One audit row per merged group, on the survivor, holding every row before and after.
//
// Detection reads the expression index inventory_variant_canonical_idx (index-only).

const GROUPS = `
SELECT external_id, inventory_variant_canonical(variant_key) AS canon
FROM inventory
GROUP BY 1, 2
HAVING count(*) > 1`;

// Targets are the duplicate keys (found index-only, no lock); a batch locks just the rows
// of its keys, by index lookups, for the short merge.
const LOCK_SQL = `
SELECT i.id FROM unnest($1::text[], $2::text[]) AS k(external_id, canon)
JOIN inventory i ON i.external_id = k.external_id AND inventory_variant_canonical(i.variant_key) = k.canon
ORDER BY i.id
FOR UPDATE OF i`;

// Regrouped from the locked rows: one may have changed or gone while we waited for it.
const PAIRS_SQL = `
WITH locked AS (SELECT id, external_id, inventory_variant_canonical(variant_key) AS canon FROM inventory WHERE id = ANY($1::bigint[])),
groups AS (SELECT external_id, canon, min(id) AS survivor FROM locked GROUP BY 1, 2 HAVING count(*) > 1)
SELECT l.id AS dup_id, g.survivor AS survivor_id
FROM locked l JOIN groups g ON g.external_id = l.external_id AND g.canon = l.canon
WHERE l.id <> g.survivor`;

const MERGE_SQL = `
WITH m AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS m(dup_id, survivor_id)),
d AS (
  SELECT m.survivor_id,
         sum(i.quantity)::int AS quantity, sum(i.reserved_quantity)::int AS reserved, bool_or(i.is_active) AS active,
         (array_agg(i.image_url ORDER BY i.id) FILTER (WHERE i.image_url IS NOT NULL))[1] AS image_url,
         (array_agg(i.r2_url ORDER BY i.id) FILTER (WHERE i.r2_url IS NOT NULL))[1] AS r2_url,
         (array_agg(i.store_name ORDER BY i.id) FILTER (WHERE i.store_name IS NOT NULL))[1] AS store_name,
         array_agg(i.id ORDER BY i.id) AS ids,
         jsonb_agg(to_jsonb(i) ORDER BY i.id) AS rows
  FROM m JOIN inventory i ON i.id = m.dup_id
  GROUP BY m.survivor_id
),
before AS (SELECT s.* FROM inventory s JOIN d ON s.id = d.survivor_id),
after AS (
  UPDATE inventory s
  SET quantity = s.quantity + d.quantity,
      reserved_quantity = s.reserved_quantity + d.reserved,
      is_active = s.is_active OR d.active,
      image_url = coalesce(s.image_url, d.image_url),
      r2_url = coalesce(s.r2_url, d.r2_url),
      store_name = coalesce(s.store_name, d.store_name)
  FROM d WHERE s.id = d.survivor_id
  RETURNING s.*
),
movements AS (
  UPDATE stock_movements t SET inventory_id = m.survivor_id FROM m WHERE t.inventory_id = m.dup_id RETURNING m.survivor_id
),
reservations AS (
  UPDATE stock_reservations t SET inventory_id = m.survivor_id FROM m WHERE t.inventory_id = m.dup_id RETURNING m.survivor_id
),
alerts AS (
  UPDATE stock_alerts t SET inventory_id = m.survivor_id, status = 'resolved', resolved_at = coalesce(t.resolved_at, now())
  FROM m WHERE t.inventory_id = m.dup_id RETURNING m.survivor_id
),
items AS (
  UPDATE order_items t SET inventory_id = m.survivor_id FROM m WHERE t.inventory_id = m.dup_id RETURNING m.survivor_id
),
moved AS (
  SELECT survivor_id, jsonb_object_agg(ref, n) AS counts FROM (
    SELECT survivor_id, 'stock_movements' AS ref, count(*) AS n FROM movements GROUP BY 1
    UNION ALL SELECT survivor_id, 'stock_reservations', count(*) FROM reservations GROUP BY 1
    UNION ALL SELECT survivor_id, 'stock_alerts', count(*) FROM alerts GROUP BY 1
    UNION ALL SELECT survivor_id, 'order_items', count(*) FROM items GROUP BY 1
  ) c GROUP BY survivor_id
),
audit AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $4, 'inventory', a.id::text,
         jsonb_build_object('survivor', to_jsonb(b), 'duplicates', d.rows),
         jsonb_build_object('survivor', to_jsonb(a), 'merged_ids', to_jsonb(d.ids),
                            'moved_references', coalesce(mv.counts, '{}'::jsonb)),
         $3
  FROM after a
  JOIN before b ON b.id = a.id
  JOIN d ON d.survivor_id = a.id
  LEFT JOIN moved mv ON mv.survivor_id = a.id
  RETURNING 1
)
SELECT (SELECT count(*) FROM audit)::int AS repaired`;

async function repairBatch({ client, check, jobId, targets }: RepairBatch): Promise<Record<string, number>> {
  const locked = await client.query<{ id: string }>(LOCK_SQL, [targets.map((k) => k.external_id), targets.map((k) => k.canon)]);
  if (locked.rowCount === 0) return { repaired: 0, rowsMerged: 0 };
  const pairs = await client.query<{ dup_id: string; survivor_id: string }>(PAIRS_SQL, [locked.rows.map((r) => r.id)]);
  if (pairs.rowCount === 0) return { repaired: 0, rowsMerged: 0 };
  const dups = pairs.rows.map((p) => p.dup_id);
  const { rows } = await client.query<{ repaired: number }>(MERGE_SQL, [dups, pairs.rows.map((p) => p.survivor_id), jobId, check]);
  // A statement of its own: the moves above must be visible before the duplicates go
  // (their ON DELETE CASCADE would otherwise take the references with them).
  const deleted = await client.query('DELETE FROM inventory WHERE id = ANY($1::bigint[])', [dups]);
  return { repaired: rows[0]!.repaired, rowsMerged: deleted.rowCount ?? 0 };
}

const check: Check = {
  name: 'duplicate-inventory',
  description: 'Rows of one external_id whose variant keys differ only in case or whitespace: merged into the oldest (quantities summed, references moved)',
  touchesInventory: true,
  detectSql: `SELECT count(*)::int AS found, coalesce(sum(n - 1), 0)::int AS "duplicateRows"
              FROM (SELECT count(*) AS n FROM inventory GROUP BY external_id, inventory_variant_canonical(variant_key) HAVING count(*) > 1) g`,
  targetsSql: `${GROUPS} LIMIT $1`,
  foundIsTargetCount: true,
  repairs: always,
  repairBatch,
};
export default check;
