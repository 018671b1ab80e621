// Seeds the maintenance benchmark: `n` inventory items shaped like the shop's (two variants
// per AliExpress id, ~2.5 % low or out of stock) with a realistic share of every fault the
// integrity checks repair. Everything is generated in SQL (generate_series), set-based.
import type { PoolClient } from '../shared/db.ts';

export interface SeedShape {
  items: number;
  /** Orders; order items, products and sessions scale with it. */
  orders: number;
}

export function shapeFor(n: number): SeedShape {
  return { items: n, orders: Math.max(100, Math.round(n / 50)) };
}

/** Statements in order, each with the shape fields it takes as $1, $2. */
const STEPS: [string, string, (keyof SeedShape)[]][] = [
  ['inventory', `
    INSERT INTO inventory (external_id, variant_key, title, category, unit_price, quantity, low_stock_threshold, attributes, store_name, is_active)
    SELECT 'ae-' || (g / 2), 'color:' || (ARRAY['gold','silver','rose gold'])[g % 3 + 1] || ',size:' || (g % 2 + 10) || 'mm',
           'Stainless Steel Charm ' || g,
           (ARRAY['Chains/Bracelet Chains','Earrings/Components','Charms/Pendants','Findings/Carabiners'])[g % 4 + 1],
           (g % 500) / 10.0 + 0.5,
           -- 0.5 % out of stock, 2 % low, the rest 20..219 units
           CASE WHEN g % 1000 < 5 THEN 0 WHEN g % 1000 < 25 THEN 1 + g % 3 ELSE 20 + g % 200 END,
           3,
           jsonb_build_object('color', (ARRAY['Gold','Silver','Rose Gold'])[g % 3 + 1], 'size', (g % 2 + 10) || 'mm'),
           'Store ' || (g % 300), g % 97 <> 0
    FROM generate_series(1, $1::int) g`, ['items']],
  ['orders (5 % cancelled)', `
    INSERT INTO orders (id, order_number, status, total, created_at)
    SELECT md5('order' || g)::uuid, 'B-' || g, CASE WHEN g % 20 = 0 THEN 'cancelled' ELSE 'paid' END::order_status,
           10 + g % 90, now() - make_interval(days => g % 365)
    FROM generate_series(0, $1::int - 1) g`, ['orders']],
  // Active reservations on ~3 % of stocked items; 1 in 7 already expired, and those of
  // cancelled orders (5 % of orders) are faults too.
  ['reservations', `
    INSERT INTO stock_reservations (inventory_id, order_id, quantity, status, expires_at)
    SELECT i.id, md5('order' || (i.id % $1::int))::uuid, 1 + i.id % 2, 'active',
           CASE WHEN i.id % 7 = 0 THEN now() - interval '2 hours' ELSE now() + interval '2 days' END
    FROM inventory i WHERE i.id % 33 = 0 AND i.quantity >= 20`, ['orders']],
  ['reservation history', `
    INSERT INTO stock_reservations (inventory_id, order_id, quantity, status, expires_at)
    SELECT i.id, md5('order' || (i.id % $1::int))::uuid, 1, CASE WHEN i.id % 2 = 0 THEN 'released' ELSE 'consumed' END::reservation_status, now() - interval '30 days'
    FROM inventory i WHERE i.id % 33 = 1`, ['orders']],
  ['reserved_quantity = active reservations', `
    UPDATE inventory i SET reserved_quantity = r.q
    FROM (SELECT inventory_id, sum(quantity)::int AS q FROM stock_reservations WHERE status = 'active' GROUP BY 1) r
    WHERE i.id = r.inventory_id`, []],
  // 0.1 %: reserved_quantity inflated past the stock (the runbook's "negative available").
  ['negative available', `UPDATE inventory SET reserved_quantity = quantity + 3 WHERE id % 1000 = 507 AND quantity >= 5`, []],
  // 0.01 %: really oversold (active reservations exceed stock): reported, not repairable.
  ['oversold', `
    WITH o AS (SELECT id, quantity + 2 AS q FROM inventory WHERE id % 10000 = 11),
    r AS (INSERT INTO stock_reservations (inventory_id, quantity, status, expires_at) SELECT id, q, 'active', now() + interval '1 day' FROM o)
    UPDATE inventory i SET reserved_quantity = o.q FROM o WHERE i.id = o.id`, []],
  ['stock movements', `
    INSERT INTO stock_movements (inventory_id, delta, quantity_after, reason, source_job, created_at)
    SELECT 1 + (g::bigint * 7919) % $1::int, 1 + g % 5, 10, 'import', 'inventory-import', now() - make_interval(mins => g % 10000)
    FROM generate_series(1, $1::int / 5) g`, ['items']],
  ['order items (+1.7 % orphans)', `
    INSERT INTO order_items (order_id, inventory_id, quantity, unit_price)
    SELECT CASE WHEN g % 60 = 0 THEN gen_random_uuid() ELSE md5('order' || (g % $2::int))::uuid END,
           1 + (g::bigint * 104729) % $1::int, 1 + g % 3, 2.5
    FROM generate_series(1, $2::int * 3) g`, ['items', 'orders']],
  ['products and variants (+1 % orphans)', `
    WITH p AS (
      INSERT INTO products (source, source_product_id, title, sku)
      SELECT 'stockx', 'p-' || g, 'Sneaker ' || g, 'SKU' || g FROM generate_series(1, $1::int / 2) g RETURNING id)
    INSERT INTO product_variants (product_id, size, size_type)
    SELECT CASE WHEN s = 0 AND p.id % 10 = 0 THEN p.id + 100000000 ELSE p.id END, (7 + s * 0.5)::text, 'us m'
    FROM p, generate_series(0, 9) s`, ['orders']],
  ['admin sessions (20 % expired)', `
    WITH u AS (INSERT INTO admin_users (name) VALUES ('bench-admin') RETURNING id)
    INSERT INTO admin_tokens (admin_user_id, name, token_hash, kind, expires_at)
    SELECT u.id, 'session ' || g, md5('t' || g), 'session', now() + CASE WHEN g % 5 = 0 THEN interval '-1 day' ELSE interval '1 day' END
    FROM u, generate_series(1, greatest($1::int / 4, 10)) g`, ['orders']],
  // 1 %: status written with the trigger bypassed (the only way it can drift).
  ['status drift', `
    UPDATE inventory SET status = CASE status WHEN 'in_stock' THEN 'low_stock' ELSE 'in_stock' END::stock_status
    WHERE id % 100 = 3`, []],
  // 0.05 %: a second row of one id whose variant key differs only in case, with references.
  ['duplicates', `
    WITH d AS (
      INSERT INTO inventory (external_id, variant_key, title, category, unit_price, quantity, attributes, store_name)
      SELECT external_id, upper(variant_key), title, category, unit_price, 2 + id % 5, attributes, store_name
      FROM inventory WHERE id % 2000 = 5 RETURNING id),
    m AS (INSERT INTO stock_movements (inventory_id, delta, quantity_after, reason) SELECT id, 2, 2, 'import' FROM d),
    o AS (INSERT INTO order_items (order_id, inventory_id, quantity) SELECT md5('order' || (id % $1::int))::uuid, id, 1 FROM d)
    SELECT count(*) FROM d`, ['orders']],
];

/** Seeds everything; `log` gets one line per step with its time. */
export async function seedMaintenance(client: PoolClient, n: number, log: (line: string) => void): Promise<SeedShape> {
  const shape = shapeFor(n);
  for (const [name, sql, keys] of STEPS) {
    const t = performance.now();
    if (name === 'status drift') await client.query('SET session_replication_role = replica');
    await client.query(sql, keys.map((k) => shape[k]));
    if (name === 'status drift') await client.query('SET session_replication_role = DEFAULT');
    log(`  seeded ${name} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  await client.query('VACUUM ANALYZE');
  return shape;
}
