import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect, beforeEach, afterAll } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { useTestFleet, waitFor } from '../helpers.ts';
import inventoryImport from '../../jobs/inventory-import/index.ts';
import mvRefresh from '../../jobs/mv-refresh/index.ts';
import { seedExport, SEED_TABLE } from '../../bench/generators/aliexpress-seed.ts';
import { fixture, removeFixtures, runImport, importOk, snapshot, order, item } from './support.ts';

const fleet = useTestFleet();
afterAll(removeFixtures);
beforeEach(async () => {
  await fleet.db.query('TRUNCATE inventory, job_runs RESTART IDENTITY CASCADE');
});

describe('inventory-import', () => {
  it("reproduces seed 000's table from a 135-item export read from S3, then refreshes the summary view", async () => {
    await fleet.services.s3.send(new PutObjectCommand({ Bucket: fleet.config.importBucket, Key: 'exports/seed.json', Body: JSON.stringify(seedExport()) }));
    const host = await fleet.startWorkers([inventoryImport, mvRefresh]);
    try {
      const run = await runImport(fleet, { source: { s3: { key: 'exports/seed.json' } } });
      expect(run.state).toBe('completed');
      expect(run.result).toMatchObject({ inserted: 135, updated: 0, unchanged: 0, rejected: 1, skippedCancelled: 2, movements: 0 });
      const expected = Object.entries(SEED_TABLE).sort(([a], [b]) => a.localeCompare(b));
      expect(Object.entries(run.result.byCategory).map(([c, t]) => [c, { items: t.items, value: t.value.toFixed(2) }])).toEqual(expected);
      // The import queued a refresh of the summary; the view then shows the seed's table.
      const refresh = await waitFor(async () => {
        const job = await fleet.services.producer.queue('mv-refresh').getJob(`after-inventory-import-${run.id}`);
        return job && (await job.getState()) === 'completed' ? job : undefined;
      }, { what: 'the mv-refresh queued by the import' });
      expect(refresh.data.payload).toEqual({ views: ['inventory_category_summary'], lockTimeoutMs: 10_000 });
      const { rows } = await fleet.db.query(`SELECT category, items, total_value::text AS value FROM inventory_category_summary ORDER BY category`);
      expect(rows.map((r) => [r.category, { items: r.items, value: r.value }])).toEqual(expected);
    } finally {
      await host.close();
    }
  });

  it('parses every price format, and rejects each bad row with its position and reason while good rows land', async () => {
    const file = await fixture('prices.json', {
      exportedAt: '2025-08-02T17:54:46.302Z',
      orders: [
        order([
          item('p1', { price: '$2.91' }), item('p2', { price: 'US $2.91' }), item('p3', { price: 'US$2.91' }),
          item('p4', { price: '2.91' }), item('p5', { price: 2.91 }), item('p6', { price: '$1,299.00' }),
        ]),
        order([
          item('b1', { price: '€2.91' }), item('b2', { price: '-$1.00' }), item('b3', { price: '' }), { title: 'no id', price: '$1', quantity: 1 },
          item('b5', { title: '' }), item('b6', { quantity: 0 }), item('b7', { quantity: 1.5 }), item('b8', { attributes: 'Gold' }), 'not an item',
          item('ok', { price: '$5.00' }),
        ], { orderId: '8190000000000002' }),
      ],
    });
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const run = await runImport(fleet, { source: { path: file } });
      expect(run.state).toBe('completed');
      expect(run.result).toMatchObject({ items: 16, inserted: 7, rejected: 9, skippedCancelled: 0 });
      const { rows } = await fleet.db.query(`SELECT external_id, unit_price::text FROM inventory ORDER BY external_id`);
      expect(rows).toEqual([
        { external_id: 'ok', unit_price: '5.00' }, { external_id: 'p1', unit_price: '2.91' }, { external_id: 'p2', unit_price: '2.91' },
        { external_id: 'p3', unit_price: '2.91' }, { external_id: 'p4', unit_price: '2.91' }, { external_id: 'p5', unit_price: '2.91' },
        { external_id: 'p6', unit_price: '1299.00' },
      ]);
      expect(run.result.errors).toEqual([
        { order: 1, item: 0, at: 'orders[1].items[0]', orderId: '8190000000000002', itemId: 'b1', reason: 'price is not in US dollars (got "€2.91")' },
        { order: 1, item: 1, at: 'orders[1].items[1]', orderId: '8190000000000002', itemId: 'b2', reason: 'price is negative (got "-$1.00")' },
        { order: 1, item: 2, at: 'orders[1].items[2]', orderId: '8190000000000002', itemId: 'b3', reason: 'price is empty' },
        { order: 1, item: 3, at: 'orders[1].items[3]', orderId: '8190000000000002', reason: 'itemId is missing' },
        { order: 1, item: 4, at: 'orders[1].items[4]', orderId: '8190000000000002', itemId: 'b5', reason: 'title is empty' },
        { order: 1, item: 5, at: 'orders[1].items[5]', orderId: '8190000000000002', itemId: 'b6', reason: 'quantity must be a positive integer (got 0)' },
        { order: 1, item: 6, at: 'orders[1].items[6]', orderId: '8190000000000002', itemId: 'b7', reason: 'quantity must be a positive integer (got 1.5)' },
        { order: 1, item: 7, at: 'orders[1].items[7]', orderId: '8190000000000002', itemId: 'b8', reason: 'attributes must be "Name: value" pairs (got "Gold")' },
        { order: 1, item: 8, at: 'orders[1].items[8]', orderId: '8190000000000002', reason: 'item is not an object' },
      ]);
      // The full list goes to the audit row as well.
      await waitFor(async () => (await fleet.db.query(`SELECT 1 FROM job_runs WHERE job_id = $1 AND state = 'completed'`, [run.id])).rowCount);
      const audit = await fleet.db.query(`SELECT detail FROM job_runs WHERE job_id = $1 AND state = 'completed'`, [run.id]);
      expect(audit.rows[0].detail).toEqual({ rejected: 9, errors: run.result.errors });
    } finally {
      await host.close();
    }
  });

  it('keeps one row per item and variant whatever the attribute order or form, summing quantities; newest order sets the price', async () => {
    const file = await fixture('attributes.json', [
      order([item('a', { attributes: 'Color: Gold, Size: 12cm', quantity: 2, price: '$1.00' })], { orderDate: '2025-07-10' }),
      order([item('a', { attributes: 'Size: 12cm, Color: Gold', quantity: 3, price: '$2.00', title: 'Moon Pendant v2' })], { orderDate: '2025-07-20' }),
      order([item('a', { attributes: { size: '12cm', color: 'Gold' }, quantity: 4, price: '$3.00' })], { orderDate: '2025-07-15' }),
      order([item('a', { attributes: 'Color: Silver, Size: 12cm', quantity: 1 }), item('a', { quantity: 1 }), item('b', { attributes: ' Metal  Color : Rose Gold ' })]),
    ]);
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const result = await importOk(fleet, { source: { path: file } });
      expect(result).toMatchObject({ items: 6, inserted: 4, rejected: 0 });
      const { rows } = await fleet.db.query(`SELECT external_id, variant_key, attributes, quantity, unit_price::text, title FROM inventory ORDER BY external_id, variant_key`);
      expect(rows).toEqual([
        { external_id: 'a', variant_key: '', attributes: {}, quantity: 1, unit_price: '1.00', title: 'Moon Star Pendant' },
        { external_id: 'a', variant_key: '{"color":"Gold","size":"12cm"}', attributes: { color: 'Gold', size: '12cm' }, quantity: 9, unit_price: '2.00', title: 'Moon Pendant v2' },
        { external_id: 'a', variant_key: '{"color":"Silver","size":"12cm"}', attributes: { color: 'Silver', size: '12cm' }, quantity: 1, unit_price: '1.00', title: 'Moon Star Pendant' },
        { external_id: 'b', variant_key: '{"metal_color":"Rose Gold"}', attributes: { metal_color: 'Rose Gold' }, quantity: 1, unit_price: '1.00', title: 'Moon Star Pendant' },
      ]);
    } finally {
      await host.close();
    }
  });

  it('categorizes by the rules, precedence included', async () => {
    const titles = {
      c1: ['Lobster Clasp Keychain', 'Findings/Carabiners'], c2: ['Gold Necklace Chain', 'Chains/Necklace Chains'], c3: ['Charms', 'Charms/Pendants'],
      c4: ['Cuban Link Chain', 'Chains/Bracelet Chains'], c5: ['Key Chain Tassel', 'Accessories/Bag Accessories'], c6: ['Earring Charm Hoops', 'Earrings/Components'],
      c7: ['Cabbage Leaf Beads', 'Components/Miscellaneous'], c8: ['Open Jump Rings', 'Findings/Connectors'],
    };
    const file = await fixture('categories.json', { orders: [order(Object.entries(titles).map(([id, [title]]) => item(id, { title })))] });
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      await importOk(fleet, { source: { path: file } });
      const { rows } = await fleet.db.query(`SELECT external_id, category FROM inventory ORDER BY external_id`);
      expect(Object.fromEntries(rows.map((r) => [r.external_id, r.category]))).toEqual(Object.fromEntries(Object.entries(titles).map(([id, [, c]]) => [id, c])));
    } finally {
      await host.close();
    }
  });

  it('adds nothing from cancelled or refunded orders', async () => {
    const file = await fixture('cancelled.json', { orders: [
      order([item('x', { quantity: 5 }), item('y')], { status: 'Cancelled' }),
      order([item('x', { quantity: 2 })], { status: 'Refunded' }),
      order([item('x', { quantity: 1 })]),
    ] });
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const result = await importOk(fleet, { source: { path: file } });
      expect(result).toMatchObject({ items: 4, inserted: 1, skippedCancelled: 3 });
      const { rows } = await fleet.db.query(`SELECT external_id, quantity FROM inventory`);
      expect(rows).toEqual([{ external_id: 'x', quantity: 1 }]);
    } finally {
      await host.close();
    }
  });

  it('re-importing changes nothing; a changed quantity writes one movement with the delta and the job id; status follows the rule', async () => {
    const first = [order([item('s', { quantity: 5 }), item('t', { quantity: 10 }), item('u', { quantity: 2 }), item('v', { quantity: 5 })])];
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      expect(await importOk(fleet, { source: { path: await fixture('first.json', first) } })).toMatchObject({ inserted: 4, movements: 0 });
      const statuses = await fleet.db.query(`SELECT external_id, status::text FROM inventory ORDER BY external_id`);
      expect(statuses.rows.map((r) => r.status)).toEqual(['in_stock', 'in_stock', 'low_stock', 'in_stock']);
      await fleet.db.query(`UPDATE inventory SET reserved_quantity = 4 WHERE external_id = 't'`);
      const before = await snapshot(fleet);

      const again = await importOk(fleet, { source: { path: await fixture('again.json', first) } });
      expect(again).toMatchObject({ inserted: 0, updated: 0, unchanged: 4, movements: 0 });
      expect(await snapshot(fleet)).toEqual(before);

      // s: 5 → 2+3 in two orders (net unchanged); t: 10 → 6 (reserved 4: available 2, low stock);
      // u: 2 → 1+4 (one movement for the net +3, not one per order); v: price only.
      const second = [
        order([item('s', { quantity: 2 }), item('t', { quantity: 6 }), item('u', { quantity: 1 }), item('v', { quantity: 5, price: '$9.99' })]),
        order([item('s', { quantity: 3 }), item('u', { quantity: 4 })], { orderDate: '2025-07-01' }),
      ];
      const run = await runImport(fleet, { source: { path: await fixture('second.json', second) } });
      expect(run.result).toMatchObject({ inserted: 0, updated: 3, unchanged: 1, movements: 2 });
      const after = await snapshot(fleet);
      expect(after.movements).toEqual([
        { external_id: 't', variant_key: '', delta: -4, quantity_after: 6, reason: 'import', source_job: `inventory-import:${run.id}` },
        { external_id: 'u', variant_key: '', delta: 3, quantity_after: 5, reason: 'import', source_job: `inventory-import:${run.id}` },
      ]);
      const byId = Object.fromEntries(after.inventory.map((r) => [r.external_id, r]));
      const old = Object.fromEntries(before.inventory.map((r) => [r.external_id, r]));
      expect(byId.s).toEqual(old.s); // back where it was, updated_at included
      expect(byId.t).toMatchObject({ quantity: 6, reserved_quantity: 4, status: 'low_stock' });
      expect(byId.u).toMatchObject({ quantity: 5, status: 'in_stock' });
      expect(byId.v).toMatchObject({ quantity: 5, unit_price: '9.99' });
      expect(byId.v!.updated_at.getTime()).toBeGreaterThan(old.v!.updated_at.getTime());
    } finally {
      await host.close();
    }
  });

  it('fails a file that is not JSON, or not an export, at once and without writing anything', async () => {
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      await importOk(fleet, { source: { path: await fixture('base.json', [order([item('keep', { quantity: 3 })])]) } });
      const before = await snapshot(fleet);
      const cases: [string, string, RegExp][] = [
        ['csv.json', 'itemId,title\n1,Charm\n', /is not valid JSON/],
        ['shape.json', JSON.stringify({ exportedAt: 'x', data: [] }), /no "orders" array/],
        ['orders.json', JSON.stringify({ orders: { a: 1 } }), /"orders" must be an array/],
        ['order.json', JSON.stringify({ orders: [order([item('new')]), 'x'] }), /orders\[1\] is not an object/],
        ['truncated.json', JSON.stringify([order([item('new', { quantity: 9 })]), order([item('keep', { quantity: 1 })])]).slice(0, -3), /truncated|not valid JSON/],
        ['empty.json', '', /not valid JSON/],
      ];
      for (const [name, text, reason] of cases) {
        const run = await runImport(fleet, { source: { path: await fixture(name, text) } });
        expect(run.state, name).toBe('failed');
        expect(run.failedReason, name).toMatch(reason);
        expect(run.attemptsMade, name).toBe(1); // unrecoverable: no retries
      }
      const missing = await runImport(fleet, { source: { path: '/nonexistent/export.json' } });
      expect(missing.failedReason).toMatch(/file \/nonexistent\/export.json does not exist/);
      const s3 = await runImport(fleet, { source: { s3: { key: 'nope.json' } } });
      expect(s3.failedReason).toMatch(/s3:\/\/.*\/nope.json does not exist/);
      expect(await snapshot(fleet)).toEqual(before);
    } finally {
      await host.close();
    }
  });

  it('dry run reports what the import will do, and changes nothing', async () => {
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      await importOk(fleet, { source: { path: await fixture('dry-base.json', [order([item('d1', { quantity: 3 }), item('d2', { quantity: 4 })])]) } });
      const before = await snapshot(fleet);
      const next = await fixture('dry-next.json', [order([item('d1', { quantity: 5 }), item('d2', { quantity: 4 }), item('d3'), item('d4', { price: 'EUR 1' })])]);
      const dryRun = await runImport(fleet, { source: { path: next }, dryRun: true });
      const dry = dryRun.result;
      expect(dry.dryRun).toBe(true);
      expect(await snapshot(fleet)).toEqual(before);
      const real = await importOk(fleet, { source: { path: next } });
      expect({ ...dry, dryRun: false }).toEqual(real);
      expect(real).toMatchObject({ inserted: 1, updated: 1, unchanged: 1, rejected: 1, movements: 1 });
      // A dry run queues no refresh.
      expect(await fleet.services.producer.queue('mv-refresh').getJob(`after-inventory-import-${dryRun.id}`)).toBeUndefined();
    } finally {
      await host.close();
    }
  });

  it('reads an export from an http(s) URL; a URL that answers 404 fails without retries', async () => {
    const body = JSON.stringify([order([item('web', { quantity: 2 })])]);
    const server = http.createServer((req, res) => {
      if (req.url?.split('?')[0] === '/export.json') res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const result = await importOk(fleet, { source: { url: `${base}/export.json?signature=secret` } });
      expect(result).toMatchObject({ inserted: 1, source: `URL ${base}/export.json` });
      const missing = await runImport(fleet, { source: { url: `${base}/gone.json?signature=secret` } });
      expect(missing).toMatchObject({ state: 'failed', attemptsMade: 1 });
      expect(missing.failedReason).toBe(`URL ${base}/gone.json answered HTTP 404`);
    } finally {
      await host.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('rejects a bad payload at the edge, naming the field', async () => {
    await expect(fleet.services.producer.enqueue('inventory-import', { source: { url: 'ftp://x/y' } })).rejects.toThrow(/source/);
    await expect(fleet.services.producer.enqueue('inventory-import', { source: { path: 'a', s3: { key: 'b' } } })).rejects.toThrow(/source/);
    await expect(fleet.services.producer.enqueue('inventory-import', { source: { path: 'a' }, dryrun: true })).rejects.toThrow(/dryrun/);
  });

  it('keeps status and updated_at right for any writer, not only the import', async () => {
    await fleet.db.query(`INSERT INTO inventory (external_id, title, quantity) VALUES ('w1', 'x', 0), ('w2', 'x', 2), ('w3', 'x', 10)`);
    const { rows } = await fleet.db.query(`SELECT status::text, updated_at FROM inventory ORDER BY external_id`);
    expect(rows.map((r) => r.status)).toEqual(['out_of_stock', 'low_stock', 'in_stock']);
    await fleet.db.query(`UPDATE inventory SET reserved_quantity = 8, status = 'in_stock' WHERE external_id = 'w3'`);
    const w3 = await fleet.db.query(`SELECT status::text, updated_at FROM inventory WHERE external_id = 'w3'`);
    expect(w3.rows[0].status).toBe('low_stock');
    expect(w3.rows[0].updated_at.getTime()).toBeGreaterThan(rows[2].updated_at.getTime());
  });
});
