import { describe, it, expect, afterAll, beforeEach } from 'vitest';
import { useTestFleet, waitFor } from '../helpers.ts';
import { startStandin } from '../fixtures/kicksdb-standin.ts';
import kicksdbSync from '../../jobs/kicksdb-sync/index.ts';
import { kicksEnv, resetCatalogue, runSync } from './support.ts';

const standin = await startStandin({ products: 45, goatProducts: 12, variants: 15 });
const fleet = useTestFleet(kicksEnv(standin));
afterAll(() => standin.close());

beforeEach(async () => {
  standin.reset();
  await resetCatalogue(fleet);
});

const sync = (payload: Record<string, unknown>) => runSync(fleet, payload);

describe('kicksdb-sync', () => {
  it('syncs several pages in full, and a rerun of an unchanged catalogue rewrites nothing', async () => {
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const first = await sync({ source: 'stockx', mode: 'full' });
      expect(first.state, first.failedReason).toBe('completed');
      expect(first.result).toMatchObject({
        source: 'stockx', mode: 'full', pages: 5, requests: 5, fetched: 45, inserted: 45, updated: 0, unchanged: 0,
        variants: 675, variantsUnchanged: 0, imagesQueued: 45, skipped: [], skippedCount: 0, complete: true, stoppedBy: 'last-page',
        resumedFromPage: null, statementsPerPage: 5, statements: 25,
      });
      // Pages 1-4 of 10 and a short page 5 of 5: the short page ends the run.
      expect(standin.requests.map((r) => r.page)).toEqual([1, 2, 3, 4, 5]);
      expect(standin.requests.every((r) => r.path.includes('display%5Bvariants%5D=true') && r.path.includes('limit=10'))).toBe(true);

      const { rows: [p3] } = await fleet.db.query(
        `SELECT sku, sku_normalized, slug, title, brand, image_url, source_image_url, r2_url, traits, retail_price, min_price, max_price
         FROM products WHERE source = 'stockx' AND source_product_id = $1`, [standin.stockxId(3)]);
      expect(p3).toEqual({
        sku: 'SX000003-103', sku_normalized: 'SX000003103', slug: 'standin-new-balance-3', title: "New Balance Standin 3 'Bred'", brand: 'New Balance',
        image_url: 'https://images.stockx.com/images/standin-3.jpg?v=0', source_image_url: 'https://images.stockx.com/images/standin-3.jpg?v=0', r2_url: null,
        traits: { Colorway: 'Bred', 'Release Date': '2020-01-04', 'Retail Price': '140' }, retail_price: '140.00', min_price: '103.00', max_price: '173.00',
      });
      const { rows: [counts] } = await fleet.db.query(
        `SELECT (SELECT count(*) FROM products)::int AS products, (SELECT count(*) FROM product_variants)::int AS variants,
                (SELECT count(DISTINCT size_type) FROM product_variants)::int AS size_types`);
      expect(counts).toEqual({ products: 45, variants: 675, size_types: 1 });
      const { rows: [state] } = await fleet.db.query(`SELECT cursor_updated_at, resume_page, run_finished_at IS NOT NULL AS finished FROM kicksdb_sync_state WHERE source = 'stockx'`);
      expect(state.cursor_updated_at.toISOString()).toBe(new Date(standin.item('stockx', 0, false).updated_at as string).toISOString());
      expect(state).toMatchObject({ resume_page: 5, finished: true });

      // Same data again: nothing is rewritten (the rows' xmin, their writing transaction, stays)
      // and nothing is even locked (xmax stays 0: unchanged rows never reach ON CONFLICT).
      const tuples = `SELECT xmin::text AS x, xmax::text AS l FROM products UNION ALL SELECT xmin::text, xmax::text FROM product_variants`;
      const before = await fleet.db.query(tuples);
      const second = await sync({ source: 'stockx', mode: 'full' });
      expect(second.result).toMatchObject({ pages: 5, inserted: 0, updated: 0, unchanged: 45, variants: 0, variantsUnchanged: 675, variantsRemoved: 0, imagesQueued: 0 });
      const after = await fleet.db.query(tuples);
      expect(after.rows).toEqual(before.rows);
      expect(after.rows.every((r) => r.l === '0')).toBe(true);
    } finally {
      await host.close();
    }
  });

  it('incremental: reads newest first, writes only what changed, stops at the cursor', async () => {
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      expect((await sync({ source: 'stockx', mode: 'full' })).result.inserted).toBe(45);
      standin.update('stockx', [7, 30, 44]);
      standin.requests.length = 0;
      const inc = await sync({ source: 'stockx', mode: 'incremental' });
      expect(inc.state, inc.failedReason).toBe('completed');
      // Page 1 newest first: the 3 changed items, item 0 (at the cursor, unchanged), then older ones.
      expect(inc.result).toMatchObject({ pages: 1, requests: 1, fetched: 10, inserted: 0, updated: 3, unchanged: 1, variants: 45, stoppedBy: 'cursor', complete: true });
      expect(standin.requests).toHaveLength(1);
      expect(standin.requests[0]!.path).toContain('sort=updated_at');
      const { rows } = await fleet.db.query(
        `SELECT source_product_id, min_price FROM products WHERE source = 'stockx' AND source_product_id = ANY($1) ORDER BY min_price`,
        [[7, 30, 44].map((i) => standin.stockxId(i))]);
      expect(rows.map((r) => r.min_price)).toEqual(['110.00', '133.00', '147.00']);
      const newestChange = new Date(standin.item('stockx', 44, false).updated_at as string).toISOString();
      expect(inc.result.cursor).toBe(newestChange);

      // Nothing new: one request, nothing written.
      const again = await sync({ source: 'stockx', mode: 'incremental' });
      expect(again.result).toMatchObject({ pages: 1, requests: 1, updated: 0, inserted: 0, variants: 0, cursor: newestChange });

      // A migrated image stays; a new upstream image replaces it and is pending migration again.
      await fleet.db.query(`UPDATE products SET image_url = 'https://cdn.example.test/migrated/' || source_product_id || '.webp' WHERE source = 'stockx'`);
      standin.update('stockx', [5], { image: true });
      standin.update('stockx', [6]);
      const images = await sync({ source: 'stockx', mode: 'incremental' });
      expect(images.result).toMatchObject({ updated: 2, imagesQueued: 1 });
      const { rows: img } = await fleet.db.query(
        `SELECT source_product_id, image_url FROM products WHERE source_product_id = ANY($1) ORDER BY source_product_id`, [[standin.stockxId(5), standin.stockxId(6)]]);
      expect(img).toEqual([
        { source_product_id: standin.stockxId(5), image_url: 'https://images.stockx.com/images/standin-5.jpg?v=1' },
        { source_product_id: standin.stockxId(6), image_url: `https://cdn.example.test/migrated/${standin.stockxId(6)}.webp` },
      ]);
    } finally {
      await host.close();
    }
  });

  it('GOAT: variants come from the detail endpoint, and SKUs cross-link with StockX', async () => {
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const goat = await sync({ source: 'goat', mode: 'full' });
      expect(goat.state, goat.failedReason).toBe('completed');
      // 2 search pages (10 + 2 items) and one detail request per product.
      expect(goat.result).toMatchObject({ pages: 2, requests: 14, fetched: 12, inserted: 12, variants: 180, skippedCount: 0 });
      expect(standin.requests.filter((r) => r.endpoint === 'detail')).toHaveLength(12);
      const { rows: [g] } = await fleet.db.query(
        `SELECT sku, sku_normalized, title, min_price, max_price, traits, image_url FROM products WHERE source = 'goat' AND source_product_id = $1`, [String(standin.goatId(2))]);
      // Asks 109..179 step 5; size index 4, 9, 14 are unavailable, 179 among them: max is 174.
      expect(g).toMatchObject({ sku: 'SX000002 102', sku_normalized: 'SX000002102', min_price: '109.00', max_price: '174.00', image_url: 'https://image.goat.com/standin/2.png?v=0' });
      expect(g.traits).toEqual({ Colorway: 'Panda', 'Release Date': '2020-01-03T23:59:59.999Z' });
      const { rows: [unavailable] } = await fleet.db.query(`SELECT count(*)::int AS n FROM product_variants v JOIN products p ON p.id = v.product_id WHERE p.source = 'goat' AND v.available = false`);
      expect(unavailable.n).toBe(36);

      expect((await sync({ source: 'stockx', mode: 'full' })).state).toBe('completed');
      const { rows: links } = await fleet.db.query(`SELECT sku_normalized, stockx_title, goat_title FROM product_sku_links ORDER BY sku_normalized`);
      expect(links).toHaveLength(12);
      expect(links[0]).toEqual({ sku_normalized: 'SX000000100', stockx_title: "Nike Standin 0 'Black/White'", goat_title: "Nike Standin 0 'Black/White'" });
    } finally {
      await host.close();
    }
  });

  it('skips malformed items, reports each with its id and reason, and keeps the rest', async () => {
    standin.malform('stockx', [3, 4, 5]);
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'stockx', mode: 'full' });
      expect(run.state, run.failedReason).toBe('completed');
      expect(run.result).toMatchObject({ fetched: 45, inserted: 42, skippedCount: 3 });
      expect(run.result.skipped).toEqual([
        { id: standin.stockxId(3), reason: expect.stringMatching(/^malformed item: title: title is required/) },
        { id: standin.stockxId(4), reason: expect.stringMatching(/^malformed item: min_price: /) },
        { id: 'page 1 item 6', reason: expect.stringMatching(/^malformed item: \(item\): .*expected object/i) },
      ]);
      const { rows: [n] } = await fleet.db.query(`SELECT count(*)::int AS n FROM products WHERE source_product_id = ANY($1)`, [[3, 4, 5].map((i) => standin.stockxId(i))]);
      expect(n.n).toBe(0);
      const audit = await waitFor(async () => (await fleet.db.query(
        `SELECT detail FROM job_runs WHERE queue = 'kicksdb-sync' AND job_id = $1 AND state = 'completed'`, [run.id])).rows[0], { what: 'the audit row' });
      expect(audit.detail.skipped).toHaveLength(3);
    } finally {
      await host.close();
    }
  });

  it('fails at once on a malformed page, naming the URL and quoting the body', async () => {
    standin.fail({ status: 200, body: '<html><body>Welcome to the gateway</body></html>', endpoint: 'search' });
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'stockx', mode: 'full' });
      expect(run.state).toBe('failed');
      expect(run.attemptsMade).toBe(1);
      expect(run.failedReason).toMatch(/^KicksDB returned a malformed page for GET http:\/\/127\.0\.0\.1:\d+\/v3\/stockx\/products\?page=1&limit=10.*: not JSON: "<html><body>Welcome to the gateway/);
    } finally {
      await host.close();
    }
  });

  it('stops instead of looping when the API serves the same page again', async () => {
    const page1 = await (await fetch(`${standin.url}/v3/stockx/products?page=1&limit=10&display[variants]=true`, { headers: { authorization: standin.apiKey } })).text();
    standin.requests.length = 0;
    standin.fail({ status: 200, body: page1, endpoint: 'search', after: 1 });
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'stockx', mode: 'full' });
      expect(run.state).toBe('failed');
      expect(run.failedReason).toMatch(/^KicksDB returned page 1 again for GET .*page=2.*the listing does not page/);
      expect(standin.requests).toHaveLength(2);
    } finally {
      await host.close();
    }
  });

  it('maxPages stops early without moving the cursor', async () => {
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'stockx', mode: 'full', maxPages: 2 });
      expect(run.result).toMatchObject({ pages: 2, inserted: 20, complete: false, stoppedBy: 'max-pages', cursor: null });
      const { rows: [s] } = await fleet.db.query(`SELECT cursor_updated_at FROM kicksdb_sync_state WHERE source = 'stockx'`);
      expect(s.cursor_updated_at).toBeNull();
    } finally {
      await host.close();
    }
  });

  it('a new job that reuses an old job id (queue obliterated) runs afresh instead of returning the old result', async () => {
    const queue = fleet.services.producer.queue('kicksdb-sync');
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      await queue.obliterate({ force: true });
      const first = await sync({ source: 'stockx', mode: 'full', maxPages: 1 });
      await queue.obliterate({ force: true });
      standin.requests.length = 0;
      const second = await sync({ source: 'stockx', mode: 'full', maxPages: 2 });
      expect(second.id).toBe(first.id);
      expect(second.result).toMatchObject({ pages: 2, requests: 2, inserted: 10, unchanged: 10 });
      expect(standin.requests).toHaveLength(2);
    } finally {
      await host.close();
    }
  });

  it('rejects a bad payload at the edge, naming the field', async () => {
    await expect(fleet.services.producer.enqueue('kicksdb-sync', { source: 'kream', mode: 'full' })).rejects.toThrow(/Invalid payload for kicksdb-sync: source: /);
    await expect(fleet.services.producer.enqueue('kicksdb-sync', { source: 'goat' })).rejects.toThrow(/mode: /);
    await expect(fleet.services.producer.enqueue('kicksdb-sync', { source: 'goat', mode: 'full', maxPages: 0 })).rejects.toThrow(/maxPages: /);
    await expect(fleet.services.producer.enqueue('kicksdb-sync', { source: 'goat', mode: 'full', key: 'x' })).rejects.toThrow(/Unrecognized key.*key/i);
  });
});
