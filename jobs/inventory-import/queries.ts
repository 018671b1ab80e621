// The import's SQL. One transaction per import. Rows arrive in batches through COPY into a
// temporary staging table; each batch is merged by one set-based upsert while the worker
// parses the next batch, so PostgreSQL and Node work at the same time. Rows whose key the
// file already had (re-bought items) are set aside and merged once, at the end, so every
// inventory row ends as if the whole file had been aggregated first.
import type { PoolClient } from '../../shared/db.ts';

/** Staged columns, in COPY order (copy.ts writes them). */
export const STAGING_COLUMNS = ['seq', 'external_id', 'variant_key', 'title', 'category', 'unit_price', 'quantity', 'store_name', 'image_url', 'repeat', 'newer'] as const;

/**
 * Opens the import's transaction. Imports take turns (an advisory lock): two at once would
 * race on the same rows, and a retried attempt must wait until a crashed attempt's
 * transaction is gone; the server notices a dead worker's connection within
 * client_connection_check_interval and rolls it back. JIT is off: it would compile every
 * batch statement again for no gain.
 */
export async function beginImport(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  await client.query(`SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true),
                             set_config('client_connection_check_interval', '2s', true)`);
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('inventory-import'))`);
  // Temporary: private, never WAL-logged, gone with the transaction whatever happens.
  const row = `seq int NOT NULL, external_id text NOT NULL, variant_key text NOT NULL, title text NOT NULL,
    category text NOT NULL, unit_price numeric(10,2) NOT NULL, quantity int NOT NULL, store_name text, image_url text`;
  await client.query(`CREATE TEMP TABLE import_batch (${row}, repeat boolean NOT NULL, newer boolean NOT NULL) ON COMMIT DROP`); // lint-ignore: constant column list
  await client.query(`CREATE TEMP TABLE import_repeats (${row}, newer boolean NOT NULL) ON COMMIT DROP`); // lint-ignore: constant column list
  // Rows a batch updated, as they were before: the repeats pass compares against these.
  await client.query(`CREATE TEMP TABLE import_before (inventory_id bigint PRIMARY KEY, quantity int, title text, category text,
    unit_price numeric(10,2), attributes jsonb, store_name text, image_url text, updated_at timestamptz) ON COMMIT DROP`); // lint-ignore: constant column list
}

export async function clearBatch(client: PoolClient): Promise<void> {
  await client.query('TRUNCATE import_batch');
}

/**
 * The inventory row of a repeated key. LIMIT 1 keeps it a probe of the unique index per
 * key: a plain join the planner could turn into a scan of the whole table.
 */
const LOOKUP = (t: string) => `SELECT id, quantity, title, category, unit_price, attributes, store_name, image_url, updated_at, xmin
  FROM inventory WHERE external_id = ${t}.external_id AND variant_key = ${t}.variant_key LIMIT 1`;

const ATTRIBUTES = (t: string) => `CASE WHEN ${t}.variant_key = '' THEN '{}'::jsonb ELSE ${t}.variant_key::jsonb END`;

/** The import changes a row only if one of these differs; image_url only fills a gap (the image migration's URL stays). */
const CHANGED = `(inv.title, inv.category, inv.unit_price, inv.quantity, inv.attributes, inv.store_name)
      IS DISTINCT FROM (excluded.title, excluded.category, excluded.unit_price, excluded.quantity, excluded.attributes, excluded.store_name)
   OR (inv.image_url IS NULL AND excluded.image_url IS NOT NULL)`;

/**
 * Status is computed here so the inventory_status trigger (WHEN the status is wrong) has
 * nothing to do; new rows assume the column defaults (reserved 0, threshold 3), and the
 * trigger corrects any other case.
 */
const UPSERT = `
  ON CONFLICT (external_id, variant_key) DO UPDATE SET
    title = excluded.title, category = excluded.category, unit_price = excluded.unit_price,
    quantity = excluded.quantity, attributes = excluded.attributes, store_name = excluded.store_name,
    image_url = coalesce(inv.image_url, excluded.image_url),
    status = inventory_status_for(excluded.quantity, inv.reserved_quantity, inv.low_stock_threshold),
    updated_at = excluded.updated_at
  WHERE ${CHANGED}`;

export interface BatchSummary { category: string; items: number; units: number; value: string; inserted: number; updated: number; moved: number }

/**
 * Merges one batch: its first occurrences (distinct keys, the worker guarantees it) are
 * upserted as they are; changed quantities get their stock_movements row; rows it updates
 * keep their former state in import_before; repeats go aside to import_repeats.
 */
export async function mergeBatch(client: PoolClient, sourceJob: string): Promise<BatchSummary[]> {
  // A subquery in RETURNING reads the statement's snapshot: for an updated row it sees the
  // row as it was. Asked only for updated rows (xmax is 0 for an inserted one), so new and
  // unchanged rows cost no second look-up.
  const { rows } = await client.query<BatchSummary>(`
    WITH written AS (
      INSERT INTO inventory AS inv (external_id, variant_key, title, category, unit_price, quantity, attributes, store_name, image_url, status, updated_at)
      SELECT b.external_id, b.variant_key, b.title, b.category, b.unit_price, b.quantity, ${ATTRIBUTES('b')}, b.store_name, b.image_url,
             inventory_status_for(b.quantity, 0, 3), now()
      FROM import_batch b WHERE NOT b.repeat
      ${UPSERT}
      RETURNING inv.id, inv.quantity, inv.xmax = 0 AS inserted,
                CASE WHEN inv.xmax = 0 THEN NULL ELSE (SELECT o FROM inventory o WHERE o.id = inv.id) END AS old
    ),
    kept AS (
      INSERT INTO import_before
      SELECT id, (old).quantity, (old).title, (old).category, (old).unit_price, (old).attributes, (old).store_name, (old).image_url, (old).updated_at
      FROM written WHERE NOT inserted
    ),
    moved AS (
      INSERT INTO stock_movements (inventory_id, delta, quantity_after, reason, source_job)
      SELECT id, quantity - (old).quantity, quantity, 'import', $1 FROM written WHERE NOT inserted AND quantity <> (old).quantity
      RETURNING 1
    ),
    aside AS (
      INSERT INTO import_repeats SELECT seq, external_id, variant_key, title, category, unit_price, quantity, store_name, image_url, newer
      FROM import_batch WHERE repeat
    )
    SELECT category, count(*)::int AS items, sum(quantity)::bigint AS units, sum(unit_price * quantity)::numeric(14,2)::text AS value,
           (SELECT count(*) FROM written WHERE inserted)::int AS inserted,
           (SELECT count(*) FROM written WHERE NOT inserted)::int AS updated,
           (SELECT count(*) FROM moved)::int AS moved
    FROM import_batch WHERE NOT repeat GROUP BY category`, [sourceJob]);
  return rows;
}

export interface RepeatsDelta { kind: 'category' | 'action'; name: string; items: number; units: number; value: string }

/**
 * The re-bought rows, merged once. Per key: quantity = the batches' quantity + the repeats'
 * sum; title, price and the rest from the last repeat the worker marked newer (a newer
 * order date than any earlier occurrence), else as the batch left them. The result says how
 * the batches' counts change: a row a batch counted as unchanged may now be updated, a
 * movement a batch wrote is replaced by one for the net change, and a row that ends as it
 * was before the import gets its updated_at back.
 */
export async function mergeRepeats(client: PoolClient, sourceJob: string): Promise<RepeatsDelta[]> {
  const { rows } = await client.query<RepeatsDelta>(`
    WITH r AS (
      SELECT DISTINCT ON (external_id, variant_key) external_id, variant_key,
             (sum(quantity) OVER k) AS qty, bool_or(newer) OVER k AS has_newer,
             title, category, unit_price, store_name, image_url
      FROM import_repeats
      WINDOW k AS (PARTITION BY external_id, variant_key)
      ORDER BY external_id, variant_key, newer DESC, seq DESC
    ),
    cur AS (
      SELECT r.*, i.id, i.quantity AS cur_qty, i.title AS cur_title, i.category AS cur_category, i.unit_price AS cur_price,
             i.attributes AS cur_attributes, i.store_name AS cur_store, i.image_url AS cur_image,
             i.id IS NOT NULL AND i.xmin = pg_current_xact_id()::xid AND p.inventory_id IS NULL AS inserted_here,
             p.inventory_id IS NOT NULL AS updated_here,
             -- the row before this import: kept by the batch that updated it, else untouched
             CASE WHEN p.inventory_id IS NULL THEN i.quantity ELSE p.quantity END AS old_qty,
             CASE WHEN p.inventory_id IS NULL THEN i.title ELSE p.title END AS old_title,
             CASE WHEN p.inventory_id IS NULL THEN i.category ELSE p.category END AS old_category,
             CASE WHEN p.inventory_id IS NULL THEN i.unit_price ELSE p.unit_price END AS old_price,
             CASE WHEN p.inventory_id IS NULL THEN i.attributes ELSE p.attributes END AS old_attributes,
             CASE WHEN p.inventory_id IS NULL THEN i.store_name ELSE p.store_name END AS old_store,
             CASE WHEN p.inventory_id IS NULL THEN i.image_url ELSE p.image_url END AS old_image,
             p.updated_at AS old_updated_at
      FROM r
      LEFT JOIN LATERAL (${LOOKUP('r')}) i ON true
      LEFT JOIN import_before p ON p.inventory_id = i.id
    ),
    fin AS (
      SELECT cur.*,
             (coalesce(cur_qty, 0) + qty)::int AS new_qty,
             CASE WHEN has_newer OR id IS NULL THEN title ELSE cur_title END AS new_title,
             CASE WHEN has_newer OR id IS NULL THEN category ELSE cur_category END AS new_category,
             CASE WHEN has_newer OR id IS NULL THEN unit_price ELSE cur_price END AS new_price,
             CASE WHEN has_newer OR id IS NULL THEN store_name ELSE cur_store END AS new_store,
             CASE WHEN has_newer OR id IS NULL THEN image_url ELSE cur_image END AS new_image,
             CASE WHEN id IS NULL THEN ${ATTRIBUTES('cur')} ELSE cur_attributes END AS new_attributes,
             id IS NOT NULL AND NOT inserted_here AS existed
      FROM cur
    ),
    cls AS (
      SELECT fin.*,
             existed AND (old_title, old_category, old_price, old_qty, old_attributes, old_store)
               IS NOT DISTINCT FROM (new_title, new_category, new_price, new_qty, new_attributes, new_store)
               AND NOT (old_image IS NULL AND new_image IS NOT NULL) AS same_as_before
      FROM fin
    ),
    written AS (
      INSERT INTO inventory AS inv (external_id, variant_key, title, category, unit_price, quantity, attributes, store_name, image_url, status, updated_at)
      SELECT external_id, variant_key, new_title, new_category, new_price, new_qty, new_attributes, new_store, new_image,
             inventory_status_for(new_qty, 0, 3), CASE WHEN same_as_before AND updated_here THEN old_updated_at ELSE now() END
      FROM cls
      ${UPSERT}
    ),
    unmoved AS (
      DELETE FROM stock_movements m USING cls WHERE m.source_job = $1 AND m.inventory_id = cls.id RETURNING 1
    ),
    moved AS (
      INSERT INTO stock_movements (inventory_id, delta, quantity_after, reason, source_job)
      SELECT id, new_qty - old_qty, new_qty, 'import', $1 FROM cls WHERE existed AND new_qty <> old_qty
      RETURNING 1
    ),
    deltas AS (
      SELECT 'category' AS kind, cur_category AS name, -1 AS items, -cur_qty::bigint AS units, -(cur_price * cur_qty) AS value FROM cls WHERE id IS NOT NULL
      UNION ALL SELECT 'category', new_category, 1, new_qty, new_price * new_qty FROM cls
      UNION ALL SELECT 'action', CASE WHEN inserted_here THEN 'inserted' WHEN updated_here THEN 'updated' ELSE 'unchanged' END, -1, 0, 0 FROM cls WHERE id IS NOT NULL
      UNION ALL SELECT 'action', CASE WHEN NOT existed THEN 'inserted' WHEN same_as_before THEN 'unchanged' ELSE 'updated' END, 1, 0, 0 FROM cls
      UNION ALL SELECT 'action', 'movements', -(SELECT count(*)::int FROM unmoved), 0, 0
      UNION ALL SELECT 'action', 'movements', (SELECT count(*)::int FROM moved), 0, 0
    )
    SELECT kind, name, sum(items)::int AS items, sum(units)::bigint AS units, sum(value)::numeric(14,2)::text AS value
    FROM deltas GROUP BY kind, name`, [sourceJob]);
  return rows;
}
