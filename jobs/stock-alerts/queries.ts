import type { PoolClient } from '../../shared/db.ts';

// The alert lifecycle (SPEC §3): an active item that is low or out of stock has exactly one
// open alert whose level follows the item; an item that recovered (or was deactivated) has
// none. Alerts are never re-notified unless their level got worse since the last digest.

export type AlertLevel = 'low' | 'out';

/**
 * Recomputes `status` where it drifted from the status rule (only possible when the
 * trigger was bypassed). A sequential scan on purpose: see migrations/0041.
 */
export async function fixStatusDrift(client: PoolClient): Promise<number> {
  const { rowCount } = await client.query(
    `UPDATE inventory SET status = inventory_status_for(quantity, reserved_quantity, low_stock_threshold)
     WHERE status <> inventory_status_for(quantity, reserved_quantity, low_stock_threshold)`);
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

/** Open alerts the webhook has not heard about at their current level (read through stock_alerts_one_open). */
export const PENDING_SQL = `
SELECT a.id, a.level, a.notified_level
FROM stock_alerts a
WHERE a.status = 'open' AND (a.notified_level IS NULL OR a.notified_level < a.level)
ORDER BY a.level DESC, a.opened_at DESC, a.id`;

export interface PendingAlert { id: number; level: AlertLevel; notified_level: AlertLevel | null }

export async function pendingAlerts(client: PoolClient): Promise<PendingAlert[]> {
  const { rows } = await client.query<PendingAlert>(PENDING_SQL);
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
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
 * Records that the webhook accepted a digest: each alert at the level it was sent with.
 * Only still-open alerts; one resolved meanwhile stays as it is.
 */
export async function markNotified(client: PoolClient, alerts: PendingAlert[]): Promise<number> {
  const { rowCount } = await client.query(
    `UPDATE stock_alerts a SET notified_at = now(), notified_level = x.level
     FROM unnest($1::bigint[], $2::alert_level[]) AS x(id, level)
     WHERE a.id = x.id AND a.status = 'open'`,
    [alerts.map((a) => a.id), alerts.map((a) => a.level)]);
  return rowCount ?? 0;
}
