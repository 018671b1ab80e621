import type { QueryResult, QueryResultRow } from 'pg';
import type { ProductRow, Source } from './schemas.ts';

/** The statements of one run go through this, so the run can count them. */
export interface Sql {
  statements: number;
  query<R extends QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

// Products: one statement per page. Rows equal to what is stored are filtered out before the
// INSERT, so an unchanged catalogue costs reads only: no writes, no row locks, no dead tuples,
// no trigger runs. The WHERE on DO UPDATE is the safety net for a row that changed in between.
// `cur` is the pre-statement snapshot, also used to count images that became pending.
const UPSERT_PRODUCTS = `
WITH input AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                       $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::timestamptz[])
    AS t(source_product_id, sku, slug, title, brand, image_url, traits,
         min_price, max_price, avg_price, retail_price, source_updated_at)
), cur AS (
  SELECT p.source_product_id, p.sku, p.slug, p.title, p.brand, p.source_image_url, p.traits,
         p.min_price, p.max_price, p.avg_price, p.retail_price, p.source_updated_at
  FROM products p
  WHERE p.source = $1 AND p.source_product_id IN (SELECT source_product_id FROM input)
), changed AS (
  SELECT i.* FROM input i LEFT JOIN cur c USING (source_product_id)
  WHERE c.source_product_id IS NULL
     OR (c.sku, c.slug, c.title, c.brand, c.source_image_url, c.traits, c.min_price, c.max_price,
         c.avg_price, c.retail_price, c.source_updated_at)
        IS DISTINCT FROM
        (i.sku, i.slug, i.title, i.brand, i.image_url, i.traits, i.min_price, i.max_price,
         i.avg_price, i.retail_price, i.source_updated_at)
), up AS (
  INSERT INTO products AS p (source, source_product_id, sku, sku_normalized, slug, title, brand, image_url,
                             source_image_url, traits, min_price, max_price, avg_price, retail_price,
                             source_updated_at, synced_at)
  SELECT $1, i.source_product_id, i.sku, normalize_sku(i.sku), i.slug, i.title, i.brand, i.image_url,
         i.image_url, i.traits, i.min_price, i.max_price, i.avg_price, i.retail_price, i.source_updated_at, now()
  FROM changed i
  ON CONFLICT (source, source_product_id) DO UPDATE SET
    sku = EXCLUDED.sku,
    sku_normalized = EXCLUDED.sku_normalized,
    slug = EXCLUDED.slug,
    title = EXCLUDED.title,
    brand = EXCLUDED.brand,
    -- A new upstream image replaces the canonical one, which makes it pending for image-migration;
    -- an unchanged upstream image leaves a migrated image_url alone.
    image_url = CASE WHEN p.source_image_url IS DISTINCT FROM EXCLUDED.source_image_url
                     THEN EXCLUDED.image_url ELSE p.image_url END,
    source_image_url = EXCLUDED.source_image_url,
    traits = EXCLUDED.traits,
    min_price = EXCLUDED.min_price,
    max_price = EXCLUDED.max_price,
    avg_price = EXCLUDED.avg_price,
    retail_price = EXCLUDED.retail_price,
    source_updated_at = EXCLUDED.source_updated_at,
    synced_at = now()
  WHERE (p.sku, p.slug, p.title, p.brand, p.source_image_url, p.traits, p.min_price, p.max_price,
         p.avg_price, p.retail_price, p.source_updated_at)
        IS DISTINCT FROM
        (EXCLUDED.sku, EXCLUDED.slug, EXCLUDED.title, EXCLUDED.brand, EXCLUDED.source_image_url, EXCLUDED.traits,
         EXCLUDED.min_price, EXCLUDED.max_price, EXCLUDED.avg_price, EXCLUDED.retail_price, EXCLUDED.source_updated_at)
  RETURNING p.source_product_id, p.source_image_url, (p.xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE up.inserted)::int AS inserted,
       count(*) FILTER (WHERE NOT up.inserted)::int AS updated,
       count(*) FILTER (WHERE up.source_image_url IS NOT NULL
                          AND up.source_image_url IS DISTINCT FROM c.source_image_url)::int AS images_queued
FROM up LEFT JOIN cur c USING (source_product_id)`;

// Variants: one statement per page for the upsert (unchanged rows filtered out first, as for
// products) and for removing sizes the source no longer lists, only for the products on this
// page. The two data-modifying CTEs touch disjoint rows.
const UPSERT_VARIANTS = `
WITH input AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::numeric[], $6::int[], $7::boolean[], $8::text[])
    AS t(source_product_id, size, size_type, lowest_ask, total_asks, available, currency)
), target AS (
  SELECT p.id, p.source_product_id FROM products p
  WHERE p.source = $1 AND p.source_product_id = ANY($9::text[])
), changed AS (
  SELECT t.id AS product_id, i.* FROM input i JOIN target t USING (source_product_id)
  LEFT JOIN product_variants c ON c.product_id = t.id AND c.size = i.size AND c.size_type = i.size_type
  WHERE c.id IS NULL
     OR (c.lowest_ask, c.total_asks, c.available, c.currency) IS DISTINCT FROM (i.lowest_ask, i.total_asks, i.available, i.currency)
), up AS (
  INSERT INTO product_variants AS v (product_id, size, size_type, lowest_ask, total_asks, available, currency, updated_at)
  SELECT i.product_id, i.size, i.size_type, i.lowest_ask, i.total_asks, i.available, i.currency, now()
  FROM changed i
  ON CONFLICT (product_id, size, size_type) DO UPDATE SET
    lowest_ask = EXCLUDED.lowest_ask,
    total_asks = EXCLUDED.total_asks,
    available = EXCLUDED.available,
    currency = EXCLUDED.currency,
    updated_at = now()
  WHERE (v.lowest_ask, v.total_asks, v.available, v.currency)
        IS DISTINCT FROM (EXCLUDED.lowest_ask, EXCLUDED.total_asks, EXCLUDED.available, EXCLUDED.currency)
  RETURNING (v.xmax = 0) AS inserted
), gone AS (
  DELETE FROM product_variants v USING target t
  WHERE v.product_id = t.id
    AND NOT EXISTS (SELECT 1 FROM input i
                    WHERE i.source_product_id = t.source_product_id AND i.size = v.size AND i.size_type = v.size_type)
  RETURNING 1
)
SELECT (SELECT count(*) FROM up WHERE inserted)::int AS inserted,
       (SELECT count(*) FROM up WHERE NOT inserted)::int AS updated,
       (SELECT count(*) FROM gone)::int AS removed`;

export interface ProductCounts { inserted: number; updated: number; imagesQueued: number }
export interface VariantCounts { inserted: number; updated: number; removed: number }

export async function upsertProducts(sql: Sql, source: Source, rows: readonly ProductRow[]): Promise<ProductCounts> {
  if (rows.length === 0) return { inserted: 0, updated: 0, imagesQueued: 0 };
  const { rows: [r] } = await sql.query<{ inserted: number; updated: number; images_queued: number }>(UPSERT_PRODUCTS, [
    source,
    rows.map((p) => p.sourceProductId),
    rows.map((p) => p.sku),
    rows.map((p) => p.slug),
    rows.map((p) => p.title),
    rows.map((p) => p.brand),
    rows.map((p) => p.imageUrl),
    rows.map((p) => JSON.stringify(p.traits)),
    rows.map((p) => p.minPrice),
    rows.map((p) => p.maxPrice),
    rows.map((p) => p.avgPrice),
    rows.map((p) => p.retailPrice),
    rows.map((p) => p.sourceUpdatedAt),
  ]);
  return { inserted: r!.inserted, updated: r!.updated, imagesQueued: r!.images_queued };
}

/** Upserts the variants of products whose variant list is known (all of them after detail fetches). */
export async function upsertVariants(sql: Sql, source: Source, rows: readonly ProductRow[]): Promise<VariantCounts & { total: number }> {
  const withVariants = rows.filter((p) => p.variants !== undefined);
  if (withVariants.length === 0) return { inserted: 0, updated: 0, removed: 0, total: 0 };
  const cols = { spid: [] as string[], size: [] as string[], sizeType: [] as string[], ask: [] as (number | null)[], asks: [] as (number | null)[], available: [] as (boolean | null)[], currency: [] as string[] };
  for (const p of withVariants) {
    for (const v of p.variants!) {
      cols.spid.push(p.sourceProductId);
      cols.size.push(v.size);
      cols.sizeType.push(v.sizeType);
      cols.ask.push(v.lowestAsk);
      cols.asks.push(v.totalAsks);
      cols.available.push(v.available);
      cols.currency.push(v.currency);
    }
  }
  const { rows: [r] } = await sql.query<VariantCounts>(UPSERT_VARIANTS, [
    source, cols.spid, cols.size, cols.sizeType, cols.ask, cols.asks, cols.available, cols.currency,
    withVariants.map((p) => p.sourceProductId),
  ]);
  return { ...r!, total: cols.spid.length };
}

/**
 * One row per product id and per (size, size_type) within it: ON CONFLICT cannot touch a row
 * twice in one statement, and offset pagination can repeat an item. The newest copy wins.
 */
export function dedupe(rows: readonly ProductRow[]): ProductRow[] {
  const byId = new Map<string, ProductRow>();
  for (const p of rows) {
    const prev = byId.get(p.sourceProductId);
    if (!prev || (p.sourceUpdatedAt ?? '') >= (prev.sourceUpdatedAt ?? '')) byId.set(p.sourceProductId, p);
  }
  return [...byId.values()].map((p) => {
    if (!p.variants) return p;
    const sizes = new Map(p.variants.map((v) => [`${v.size}\u0000${v.sizeType}`, v]));
    return sizes.size === p.variants.length ? p : { ...p, variants: [...sizes.values()] };
  });
}
