import type { PoolClient } from '../../shared/db.ts';

// The alert lifecycle (SPEC §3): an active item that is low or out of stock has exactly one
// open alert whose level follows the item; an item that recovered (or was deactivated) has
// none. Alerts are never re-notified unless their level got worse since the last digest.

export type AlertLevel = 'low' | 'out';

const DRIFTED = `status <> inventory_status_for(quantity, reserved_quantity, low_stock_threshold)`;

/**
 * Recomputes `status` where it drifted from the status rule (only possible when the
 * trigger was bypassed). Found by a plain SELECT, which may scan in parallel (an UPDATE
 * cannot), then updated by id: usually nothing is found and nothing is locked. A
 * sequential scan on purpose: see migrations/0041.
 */
export async function fixStatusDrift(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ id: string }>(`SELECT id FROM inventory WHERE ${DRIFTED}`);
  if (rows.length === 0) return 0;
  const { rowCount } = await client.query(
    `UPDATE inventory SET status = inventory_status_for(quantity, reserved_quantity, low_stock_threshold)
     WHERE id = ANY($1::bigint[]) AND ${DRIFTED}`, [rows.map((r) => r.id)]);
  return rowCount ?? 0;
}

export interface LifecycleCounts {
  opened: number;
  escalated: number;
  deescalated: number;
  resolved: number;
  lowStock: number;
  outOfStock: number;
}

/**
 * One statement: open, escalate/de-escalate and resolve alerts against the items that are
 * not in stock now (read through the partial index inventory_not_in_stock_idx).
 * The CTEs see one snapshot, so `want` and `open_alerts` are consistent with each other.
 */
export const LIFECYCLE_SQL = `
WITH want AS (
  SELECT id AS inventory_id,
         CASE status WHEN 'out_of_stock' THEN 'out'::alert_level ELSE 'low'::alert_level END AS level
  FROM inventory
  WHERE status <> 'in_stock' AND is_active
),
open_alerts AS (
  SELECT id, inventory_id, level FROM stock_alerts WHERE status = 'open'
),
resolved AS (
  UPDATE stock_alerts a SET status = 'resolved', resolved_at = now()
  FROM open_alerts o LEFT JOIN want w ON w.inventory_id = o.inventory_id
  WHERE a.id = o.id AND w.inventory_id IS NULL
  RETURNING a.id
),
changed AS (
  UPDATE stock_alerts a SET level = w.level
  FROM open_alerts o JOIN want w ON w.inventory_id = o.inventory_id
  WHERE a.id = o.id AND o.level <> w.level
  RETURNING a.level AS new_level
),
opened AS (
  INSERT INTO stock_alerts (inventory_id, level)
  SELECT w.inventory_id, w.level FROM want w
  WHERE NOT EXISTS (SELECT 1 FROM open_alerts o WHERE o.inventory_id = w.inventory_id)
  ON CONFLICT (inventory_id) WHERE status = 'open' DO NOTHING
  RETURNING id
)
SELECT (SELECT count(*) FROM opened)::int AS opened,
       (SELECT count(*) FROM changed WHERE new_level = 'out')::int AS escalated,
       (SELECT count(*) FROM changed WHERE new_level = 'low')::int AS deescalated,
       (SELECT count(*) FROM resolved)::int AS resolved,
       (SELECT count(*) FROM want WHERE level = 'low')::int AS "lowStock",
       (SELECT count(*) FROM want WHERE level = 'out')::int AS "outOfStock"`;

export async function applyLifecycle(client: PoolClient): Promise<LifecycleCounts> {
  const { rows } = await client.query<LifecycleCounts>(LIFECYCLE_SQL);
  return rows[0]!;
}

// Open alerts the webhook has not heard about at their current level (new, or escalated
// since the last digest); read through stock_alerts_one_open.
const PENDING = `a.status = 'open' AND (a.notified_level IS NULL OR a.notified_level < a.level)`;

/** Counts of the pending alerts, the highest id among them, and the first $1 to list (out first, newest first). */
export const PENDING_SQL = `
WITH p AS (SELECT a.id, a.level, a.notified_level, a.opened_at FROM stock_alerts a WHERE ${PENDING})
SELECT (SELECT count(*) FROM p)::int AS total,
       (SELECT count(*) FROM p WHERE notified_level IS NULL)::int AS "newAlerts",
       (SELECT max(id) FROM p)::text AS "maxId",
       ARRAY(SELECT id FROM p ORDER BY level DESC, opened_at DESC, id LIMIT $1)::text[] AS listed`;

export interface PendingSummary { total: number; newAlerts: number; maxId: string | null; listed: number[] }

export async function pendingAlerts(client: PoolClient, list: number): Promise<PendingSummary> {
  const { rows } = await client.query<Omit<PendingSummary, 'listed'> & { listed: string[] }>(PENDING_SQL, [list]);
  const r = rows[0]!;
  return { ...r, listed: r.listed.map(Number) };
}

export interface AlertDetail {
  id: number;
  inventory_id: number;
  level: AlertLevel;
  notified_level: AlertLevel | null;
  opened_at: Date;
  external_id: string;
  variant_key: string;
  title: string;
  store_name: string | null;
  available_quantity: number;
  low_stock_threshold: number;
}

/** Item details for the alerts a digest lists (a bounded number of ids). */
export async function alertDetails(client: PoolClient, ids: number[]): Promise<AlertDetail[]> {
  const { rows } = await client.query<AlertDetail>(
    `SELECT a.id, a.inventory_id, a.level, a.notified_level, a.opened_at,
            i.external_id, i.variant_key, i.title, i.store_name, i.available_quantity, i.low_stock_threshold
     FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, n)
     JOIN stock_alerts a ON a.id = x.id
     JOIN inventory i ON i.id = a.inventory_id
     ORDER BY x.n`, [ids]);
  return rows.map((r) => ({ ...r, id: Number(r.id), inventory_id: Number(r.inventory_id) }));
}

/**
 * Records that the webhook accepted a digest: every alert that was pending when it was
 * built, at its current level. One statement, no id list: open alerts change only in
 * stock-alerts runs, which the run lock serialises (a duplicate merge only resolves), so
 * the pending set is the one the digest covered; `id <= maxId` keeps out any alert
 * opened after it all the same.
 */
export async function markNotified(client: PoolClient, maxId: string): Promise<number> {
  const { rowCount } = await client.query(
    `UPDATE stock_alerts a SET notified_at = now(), notified_level = a.level WHERE ${PENDING} AND a.id <= $1::bigint`, [maxId]);
  return rowCount ?? 0;
}
