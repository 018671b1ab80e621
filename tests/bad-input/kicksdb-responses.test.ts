// Bad KicksDB answers fed to kicksdb-sync (SPEC §5, docs/kicksdb.md), from a small HTTP server
// that answers each case its own way. What the job promises: a malformed item is skipped and
// counted, never the sync's end; a page that is not {"data": [...]} JSON, an oversized body,
// 401 and 403 fail the job at once with a clear message that never carries the API key;
// 429, 5xx and timeouts are retried with backoff; each page commits whole or not at all, so
// products and variants always agree.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect, beforeEach, afterAll } from 'vitest';
import { useTestFleet, waitFor } from '../helpers.ts';
import kicksdbSync from '../../jobs/kicksdb-sync/index.ts';
import type { KicksdbSyncResult } from '../../jobs/kicksdb-sync/handler.ts';
import type { Config } from '../../shared/config.ts';

const API_KEY = 'kdb-live-7f3a9c2e51d04b8a';

interface Request { path: string; page: number | null; detail: string | null; at: number }
type Answer = { status?: number; headers?: Record<string, string>; body?: string } | ((res: http.ServerResponse) => void);

const served: Request[] = [];
/** Bytes a streaming answer managed to write before the client hung up, per request. */
const streamed: number[] = [];
let answer: (r: Request) => Answer = () => ({ status: 404, body: '{}' });

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://kicksdb');
  const m = /^\/v3\/stockx\/products(?:\/([^/]+))?$/.exec(url.pathname);
  const r: Request = { path: `${url.pathname}${url.search}`, page: m && !m[1] ? Number(url.searchParams.get('page')) : null, detail: m?.[1] ? decodeURIComponent(m[1]) : null, at: performance.now() };
  served.push(r);
  // Like the real API: the key is checked first, so a wrong key never sees data.
  const a = req.headers.authorization === API_KEY ? answer(r) : { status: 401, body: '{"error":"Unauthorized"}' };
  if (typeof a === 'function') return a(res);
  res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers }).end(a.body ?? '');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const fleet = useTestFleet({
  KICKSDB_BASE_URL: baseUrl, KICKSDB_API_KEY: API_KEY, KICKSDB_PAGE_SIZE: '10', KICKSDB_REQUESTS_PER_MINUTE: '60000',
  KICKSDB_RETRY_BASE_MS: '20', KICKSDB_MAX_RETRIES: '2', KICKSDB_TIMEOUT_MS: '5000',
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let defaults: Config['kicksdb'];
beforeEach(async () => {
  defaults ??= { ...fleet.config.kicksdb };
  Object.assign(fleet.config.kicksdb, defaults);
  served.length = 0;
  streamed.length = 0;
  await fleet.db.query('TRUNCATE products, product_variants, kicksdb_sync_state');
});

// ---- what the server sends ----

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** A well-formed StockX product with two sizes. */
const sx = (n: number, extra: Record<string, unknown> = {}) => ({
  id: id(n), slug: `bad-input-${n}`, title: `Bad Input ${n}`, brand: 'Nike', sku: `BI${n}-001`, image: `https://images.stockx.com/images/bi-${n}.jpg`,
  min_price: 100, max_price: 150, avg_price: 125, updated_at: '2025-08-01T00:00:00.000Z', traits: [{ trait: 'Retail Price', value: '110' }],
  variants: [{ size: '9', size_type: 'us m', lowest_ask: 100, total_asks: 3 }, { size: '10', size_type: 'us m', lowest_ask: 150, total_asks: 1 }],
  ...extra,
});
const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => id(from + i));
const fullPage = (from: number) => Array.from({ length: 10 }, (_, i) => sx(from + i));

const json = (data: unknown, extra: Record<string, unknown> = {}): Answer => ({ body: JSON.stringify({ data, meta: { per_page: 10 }, ...extra }) });
/** Page n answers `pages[n - 1]`, and past the end an empty list. */
const pages = (...list: Answer[]) => (r: Request): Answer => (r.page !== null ? list[r.page - 1] ?? json([]) : { status: 404, body: '{"error":"Product not found"}' });
/** Serves the queued answers to the first requests, then `then` to the rest. */
const sequence = (first: Answer[], then: (r: Request) => Answer) => {
  const queue = [...first];
  return (r: Request) => queue.shift() ?? then(r);
};
/** JSON.stringify cannot write 1e309 (JSON.parse reads it as Infinity): "<1e309>" becomes it. */
const infinite = (a: Answer): Answer => (typeof a === 'function' ? a : { ...a, body: a.body?.replaceAll('"<1e309>"', '1e309') });
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** Writes `total` bytes (or forever) in 64 kB chunks, honouring backpressure, until the client hangs up. */
const stream = (total: number, headers: Record<string, string> = {}) => (res: http.ServerResponse) => {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const slot = streamed.push(0) - 1;
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.write('{"data":[');
  const pump = () => {
    while (!res.destroyed && sent < total) {
      sent += chunk.length;
      streamed[slot] = sent;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end(']}');
  };
  res.on('close', () => { streamed[slot] = sent; });
  pump();
};

/** Sends a byte every 50 ms, forever (until the client gives up). */
const trickle = (res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"data":[');
  const timer = setInterval(() => res.write(' '), 50);
  res.on('close', () => clearInterval(timer));
};

// ---- the cases ----

type Skip = [id: string, reason: RegExp];
interface Case {
  why: string;
  answer: (r: Request) => Answer;
  config?: Partial<Config['kicksdb']>;
  /** completed: the sync finished; failed: at once, no retry; retrying: this attempt failed and BullMQ will retry it. */
  outcome: 'completed' | 'failed' | 'retrying';
  /** What a failure must say (anchored where the text is ours). */
  reason?: RegExp;
  /** source_product_id of every product in the database afterwards. */
  products: string[];
  /** Variant rows afterwards [2 per product]. */
  variants?: number;
  skipped?: Skip[];
  /** Requests the server saw, retries included: bounded, never a storm. */
  requests?: number;
  /** Checks particular to the case. */
  also?: () => Promise<void> | void;
}

const WHERE = String.raw`GET http://127\.0\.0\.1:\d+/v3/stockx/products\?page=1&limit=10&display%5Bvariants%5D=true&display%5Btraits%5D=true`;
const malformedPage = (what: string) => new RegExp(`^KicksDB returned a malformed page for ${WHERE}: ${what}$`);

const cases: Case[] = [
  {
    why: 'a body that is not JSON (cut off mid-list)',
    answer: pages({ body: `{"data":[${JSON.stringify(sx(1))},{"id":"00000000-` }),
    outcome: 'failed', reason: malformedPage('not JSON: "\\{"data":\\[\\{"id":"00000000-0000-4000-8000-000000000001".*"'), products: [], requests: 1,
  },
  {
    why: 'an HTML error page with status 200',
    answer: pages({ headers: { 'content-type': 'text/html' }, body: `<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>${'<p>upstream sad</p>'.repeat(100)}</body></html>` }),
    outcome: 'failed', reason: malformedPage('not JSON: "<!DOCTYPE html> <html><head><title>502 Bad Gateway</title></head> <body><p>upstream sad</p>.*"'), products: [], requests: 1,
  },
  {
    why: '{"data": "string"}',
    answer: pages({ body: '{"data":"string"}' }),
    outcome: 'failed', reason: malformedPage('expected \\{"data": \\[\\.\\.\\.\\]\\}, got "\\{"data":"string"\\}"'), products: [], requests: 1,
  },
  {
    why: '{"data": {...}}, an object where the list belongs',
    answer: pages({ body: JSON.stringify({ data: { products: [sx(1)] } }) }),
    outcome: 'failed', reason: malformedPage('expected \\{"data": \\[\\.\\.\\.\\]\\}, got "\\{"data":\\{"products":\\[.*"'), products: [], requests: 1,
  },
  {
    why: 'a bare JSON array instead of {"data": [...]}',
    answer: pages({ body: JSON.stringify([sx(1)]) }),
    outcome: 'failed', reason: malformedPage('expected \\{"data": \\[\\.\\.\\.\\]\\}, got "\\[\\{"id":.*"'), products: [], requests: 1,
  },
  {
    why: 'page 1 fine, page 2 an HTML page: page 1 stays whole, page 2 leaves nothing',
    answer: pages(json(fullPage(1)), { headers: { 'content-type': 'text/html' }, body: '<html>Service Unavailable</html>' }),
    outcome: 'failed', reason: /^KicksDB returned a malformed page for GET .*\/v3\/stockx\/products\?page=2&.*: not JSON: "<html>Service Unavailable<\/html>"$/,
    products: ids(1, 10), requests: 2,
    also: async () => {
      const { rows } = await fleet.db.query(`SELECT resume_page, run_finished_at FROM kicksdb_sync_state WHERE source = 'stockx'`);
      expect(rows).toEqual([{ resume_page: 1, run_finished_at: null }]);
    },
  },
  {
    why: 'items with wrong types: price "abc", variants not a list, size an object, traits a string, a bad date, infinite ask, too many asks',
    answer: pages(infinite(json([
      sx(1, { min_price: 'abc' }), sx(2, { variants: 'not an array' }), sx(3, { variants: [{ size: { us: 9 }, lowest_ask: 100 }] }),
      sx(4, { traits: 'Colorway: Bred' }), sx(5, { updated_at: 'yesterday' }), sx(6, { variants: [{ size: '9', lowest_ask: '<1e309>' }] }),
      sx(7, { variants: [{ size: '9', total_asks: 2 ** 40 }] }), sx(8, { title: 42 }), sx(9, { avg_price: -5 }), sx(10),
    ]))),
    outcome: 'completed', products: [id(10)],
    skipped: [
      [id(1), /^malformed item: min_price: /], [id(2), /^malformed item: variants: /], [id(3), /^malformed item: variants\.0\.size: /],
      [id(4), /^malformed item: traits: /], [id(5), /^malformed item: updated_at: not a date-time$/], [id(6), /^malformed item: variants\.0\.lowest_ask: /],
      [id(7), /^malformed item: variants\.0\.total_asks: /], [id(8), /^malformed item: title: /], [id(9), /^malformed item: avg_price: /],
    ],
    requests: 2, // ten items: a full page, so page 2 is asked for (and is empty)
  },
  {
    why: 'a bad image URL is dropped, not the product; an unknown field is ignored',
    answer: pages(json([sx(1, { image: 'javascript:alert(1)' }), sx(2, { image: 'x'.repeat(3_000) }), sx(3, { surprise: { a: [1, 2, 3] } })])),
    outcome: 'completed', products: ids(1, 3), skipped: [],
    also: async () => {
      const { rows } = await fleet.db.query(`SELECT source_product_id, image_url FROM products ORDER BY 1`);
      expect(rows).toEqual([{ source_product_id: id(1), image_url: null }, { source_product_id: id(2), image_url: null }, { source_product_id: id(3), image_url: 'https://images.stockx.com/images/bi-3.jpg' }]);
    },
  },
  {
    why: 'missing, empty and object ids, and items that are not objects',
    answer: pages(json([{ ...sx(1), id: undefined }, sx(2, { id: '' }), sx(3, { id: null }), sx(4, { id: { uuid: id(4) } }), 'a product', 42, null, [sx(8)], sx(9)])),
    outcome: 'completed', products: [id(9)],
    skipped: [
      ['page 1 item 1', /^malformed item: id: /], ['page 1 item 2', /^malformed item: id: /], ['page 1 item 3', /^malformed item: id: /],
      ['page 1 item 4', /^malformed item: id: /], ['page 1 item 5', /^malformed item: \(item\): /], ['page 1 item 6', /^malformed item: \(item\): /],
      ['page 1 item 7', /^malformed item: \(item\): /], ['page 1 item 8', /^malformed item: \(item\): /],
    ],
  },
  {
    why: 'unicode, emoji and RTL titles land as sent; NUL or unpaired surrogates skip the item',
    answer: pages(json([
      sx(1, { title: 'Air Jordan 1 “Chicago” 🏀🔥', brand: 'ナイキ' }), sx(2, { title: 'نايكي إير \u200f ماكس', traits: [{ trait: 'لون', value: 'أسود' }] }),
      sx(3, { title: 'Nul\u0000 Title' }), sx(4, { traits: [{ trait: 'Colorway', value: 'Bred\u0000' }] }), sx(5, { variants: [{ size: '9\u0000', lowest_ask: 1 }] }),
      sx(6, { traits: [{ trait: 'Colorway', value: 'Lone \ud800' }] }), sx(7, { title: 'Lone \udc00 title' }), sx(8, { id: `${id(8)}\u0000` }),
    ])),
    outcome: 'completed', products: ids(1, 2),
    skipped: [
      [id(3), /^malformed item: title: /], [id(4), /^malformed item: traits\.0\.value: /], [id(5), /^malformed item: variants\.0\.size: /],
      [id(6), /^malformed item: traits\.0\.value: /], [id(7), /^malformed item: title: /], ['page 1 item 8', /^malformed item: id: /],
    ],
    also: async () => {
      const { rows } = await fleet.db.query(`SELECT title, brand, traits FROM products ORDER BY source_product_id`);
      expect(rows).toEqual([
        { title: 'Air Jordan 1 “Chicago” 🏀🔥', brand: 'ナイキ', traits: { 'Retail Price': '110' } },
        { title: 'نايكي إير \u200f ماكس', brand: 'Nike', traits: { 'لون': 'أسود' } },
      ]);
    },
  },
  {
    why: 'paths and SQL in slugs, SKUs and titles are only data; an id of ".." never leaves the products path',
    answer: (r) => (r.detail !== null ? json(sx(99)) : pages(json([
      sx(1, { slug: '../../../etc/passwd', sku: "'; DROP TABLE products; --" }), sx(2, { slug: "x' OR '1'='1", title: 'Robert"); DROP TABLE product_variants;--' }),
      { ...sx(3), id: '..', variants: undefined }, { ...sx(4), id: '.', variants: undefined },
    ]))(r)),
    outcome: 'completed', products: ids(1, 2),
    skipped: [['..', /^id "\.\." cannot be looked up \(a URL path segment\)$/], ['.', /^id "\." cannot be looked up/]],
    also: async () => {
      const { rows } = await fleet.db.query(`SELECT slug, sku, sku_normalized, title FROM products ORDER BY source_product_id`);
      expect(rows).toEqual([
        { slug: '../../../etc/passwd', sku: "'; DROP TABLE products; --", sku_normalized: 'DROPTABLEPRODUCTS', title: 'Bad Input 1' },
        { slug: "x' OR '1'='1", sku: 'BI2-001', sku_normalized: 'BI2001', title: 'Robert"); DROP TABLE product_variants;--' },
      ]);
      // Every request stayed under the products path: ".." is no way up.
      expect(served.every((r) => r.path.startsWith('/v3/stockx/products')), served.map((r) => r.path).join('\n')).toBe(true);
    },
  },
  {
    why: 'detail answers that are HTML, {"data": []}, or 404 skip their product, not the page',
    answer: (r) => {
      if (r.page !== null) return json([{ ...sx(1), variants: undefined }, { ...sx(2), variants: undefined }, { ...sx(3), variants: undefined }, sx(4)]);
      if (r.detail === id(1)) return { headers: { 'content-type': 'text/html' }, body: '<h1>Oops</h1>' };
      if (r.detail === id(2)) return json([]);
      return { status: 404, body: '{"error":"Product not found"}' };
    },
    outcome: 'completed', products: [id(4)],
    skipped: [[id(1), /^malformed detail response: not JSON: "<h1>Oops<\/h1>"$/], [id(2), /^malformed detail response: no "data" object$/], [id(3), /^listed by search but not found by the detail endpoint \(404\)$/]],
    requests: 4,
  },
  {
    why: 'deeply nested JSON: 100,000 arrays as an item, 10,000 inside traits',
    answer: pages({ body: `{"data":[${nested(100_000)},${JSON.stringify(sx(2)).replace('"traits":[', `"traits":[${nested(10_000)},`)},${JSON.stringify(sx(3))}]}` }),
    outcome: 'completed', products: [id(3)],
    skipped: [['page 1 item 1', /^malformed item: \(item\): /], [id(2), /^malformed item: traits\.0: /]],
  },
  {
    why: 'more than 1,000 items on one page',
    answer: pages(json(Array.from({ length: 1_001 }, (_, i) => sx(i + 1)))),
    outcome: 'failed', reason: new RegExp(`^KicksDB returned 1001 items for ${WHERE}, more than the 1000 a page may hold$`), products: [], requests: 1,
  },
  {
    why: 'a 50 MB body announced by Content-Length',
    answer: pages(stream(50 * 1024 * 1024, { 'content-length': String(50 * 1024 * 1024 + 11) })),
    outcome: 'failed', reason: new RegExp(`^KicksDB response for ${WHERE} is larger than 33554432 bytes; lower KICKSDB_PAGE_SIZE$`), products: [], requests: 1,
    also: () => { expect(streamed[0]).toBeLessThan(40 * 1024 * 1024); },
  },
  {
    why: 'an endless chunked body',
    answer: pages(stream(Number.POSITIVE_INFINITY)),
    outcome: 'failed', reason: new RegExp(`^KicksDB response for ${WHERE} is larger than 33554432 bytes; lower KICKSDB_PAGE_SIZE$`), products: [], requests: 1,
    // Cut off soon after 32 MB (the socket buffers a little more), not read to exhaustion.
    also: () => { expect(streamed[0]).toBeLessThan(40 * 1024 * 1024); },
  },
  {
    why: 'a body that trickles forever',
    config: { timeoutMs: 300, maxRetries: 1 },
    answer: pages(trickle),
    outcome: 'retrying', reason: new RegExp(`^KicksDB ${WHERE} failed 2 time\\(s\\); last: no complete answer within 300 ms\\. The job retries from its last committed page\\.$`),
    products: [], requests: 2,
  },
  {
    why: '401 (a wrong key), with the key echoed in the body',
    config: { apiKey: 'kdb-live-WRONG-0123456789' },
    answer: pages(json([sx(1)])),
    outcome: 'failed', reason: new RegExp(`^KicksDB rejected the API key \\(401 Unauthorized\\) on ${WHERE}: check KICKSDB_API_KEY\\. Server said: .*`), products: [], requests: 1,
  },
  {
    why: '401 whose body quotes the key that was sent',
    answer: (r) => ({ status: 401, body: `{"error":"key ${API_KEY} is revoked","path":"${r.path}"}` }),
    outcome: 'failed', reason: new RegExp(`^KicksDB rejected the API key \\(401 Unauthorized\\) on ${WHERE}: check KICKSDB_API_KEY\\. Server said: \\{"error":"key \\[redacted\\] is revoked".*`), products: [], requests: 1,
  },
  {
    why: '403 (not in the plan)',
    answer: () => ({ status: 403, body: `<html><body>Forbidden for ${API_KEY}</body></html>` }),
    outcome: 'failed', reason: new RegExp(`^KicksDB refused access \\(403 Forbidden\\) on ${WHERE}: the API key's plan does not include stockx search\\. Server said: <html><body>Forbidden for \\[redacted\\]</body></html>$`),
    products: [], requests: 1,
  },
  {
    why: '400 with an HTML body',
    answer: pages({ status: 400, headers: { 'content-type': 'text/html' }, body: '<h1>Bad Request</h1>' }),
    outcome: 'failed', reason: new RegExp(`^KicksDB answered 400 Bad Request on ${WHERE}: <h1>Bad Request</h1>$`), products: [], requests: 1,
  },
  {
    why: '500 and 502 (HTML), then the page',
    answer: sequence([{ status: 500, body: '{"error":"boom"}' }, { status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad Gateway</h1>' }], pages(json([sx(1), sx(2)]))),
    outcome: 'completed', products: ids(1, 2), skipped: [], requests: 3,
  },
  {
    why: '429 without Retry-After, twice, then the page',
    answer: sequence([{ status: 429, body: '{"error":"Too Many Requests"}' }, { status: 429, body: '' }], pages(json([sx(1)]))),
    outcome: 'completed', products: [id(1)], skipped: [], requests: 3,
    // Backed off, not hammered: KICKSDB_RETRY_BASE_MS 20 → 10-20 ms, then 20-40 ms (half fixed, half
    // jitter); a millisecond less allows for timer rounding.
    also: () => {
      expect(served[1]!.at - served[0]!.at).toBeGreaterThanOrEqual(9);
      expect(served[2]!.at - served[1]!.at).toBeGreaterThanOrEqual(19);
    },
  },
  {
    why: '503 on every request',
    answer: () => ({ status: 503, headers: { 'content-type': 'text/html' }, body: `<html>${'down '.repeat(2_000)}</html>` }),
    outcome: 'retrying', reason: new RegExp(`^KicksDB ${WHERE} failed 3 time\\(s\\); last: 503 Service Unavailable: <html>(down )+d?o?w?n?\\. The job retries from its last committed page\\.$`),
    products: [], requests: 3,
  },
  {
    why: 'an API that ignores ?page= and sends page 1 forever',
    answer: () => json(fullPage(1)),
    outcome: 'failed', reason: /^KicksDB returned page 1 again for GET .*page=2&.*: the listing does not page; stopping instead of looping$/, products: ids(1, 10), requests: 2,
  },
  {
    why: 'nonsense meta (per_page "abc", total -1), the same product twice, a size listed twice',
    answer: pages({ body: JSON.stringify({ data: [sx(1, { title: 'Old' }), sx(1, { updated_at: '2025-08-02T00:00:00.000Z', variants: [{ size: '9', lowest_ask: 1 }, { size: '9', lowest_ask: 2 }] })], meta: { per_page: 'abc', total: -1 } }) }),
    outcome: 'completed', products: [id(1)], variants: 1, skipped: [],
    also: async () => {
      const { rows } = await fleet.db.query(`SELECT p.title, v.size, v.lowest_ask::text FROM products p JOIN product_variants v ON v.product_id = p.id`);
      expect(rows).toEqual([{ title: 'Bad Input 1', size: '9', lowest_ask: '2.00' }]);
    },
  },
];

async function settle(jobId: string): Promise<{ state: string; result: KicksdbSyncResult; failedReason?: string; attemptsMade: number }> {
  const queue = fleet.services.producer.queue('kicksdb-sync');
  const state = await waitFor(async () => {
    const s = await queue.getJobState(jobId);
    return ['completed', 'failed', 'delayed'].includes(s) ? s : undefined;
  }, { timeoutMs: 30_000, intervalMs: 25, what: `kicksdb-sync job ${jobId} to settle` });
  const job = (await queue.getJob(jobId))!;
  return { state, result: job.returnvalue as KicksdbSyncResult, failedReason: job.failedReason, attemptsMade: job.attemptsMade };
}

describe('kicksdb-sync: bad API answers', () => {
  it.each(cases)('$why', async (c) => {
    Object.assign(fleet.config.kicksdb, c.config);
    answer = c.answer;
    const host = await fleet.startWorkers([kicksdbSync]);
    let jobId: string | undefined;
    try {
      jobId = await fleet.services.producer.enqueue('kicksdb-sync', { source: 'stockx', mode: 'full' }, { enqueuedBy: 'test' });
      const run = await settle(jobId);
      const state = { completed: 'completed', failed: 'failed', retrying: 'delayed' }[c.outcome];
      expect(run.state, run.failedReason).toBe(state);
      expect(run.attemptsMade).toBe(1);
      if (c.outcome === 'completed') {
        expect(run.result).toMatchObject({ complete: true, inserted: c.products.length, skippedCount: c.skipped?.length ?? 0 });
        expect(run.result.skipped.map((s) => s.id)).toEqual((c.skipped ?? []).map(([sid]) => sid));
        run.result.skipped.forEach((s, i) => expect(s.reason, s.id).toMatch(c.skipped![i]![1]));
      } else {
        expect(run.failedReason).toMatch(c.reason!);
        expect(run.failedReason!.length).toBeLessThan(1_000);
      }
      // The key is a secret: never in a failure, a result, or the audit rows.
      expect(`${run.failedReason} ${JSON.stringify(run.result)}`).not.toContain(API_KEY);
      expect(`${run.failedReason}`).not.toContain('kdb-live-WRONG');

      // Whole pages only: every product with all its variants, no variant without its product.
      const { rows: products } = await fleet.db.query(`SELECT source_product_id FROM products ORDER BY 1`);
      expect(products.map((p) => p.source_product_id)).toEqual([...c.products].sort());
      const { rows: [v] } = await fleet.db.query(`
        SELECT count(*)::int AS variants,
               count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = product_variants.product_id))::int AS orphans
        FROM product_variants`);
      expect(v).toEqual({ variants: c.variants ?? 2 * c.products.length, orphans: 0 });
      if (c.requests !== undefined) expect(served).toHaveLength(c.requests);
      await c.also?.();
    } finally {
      // A retrying job would run again after its backoff: it must not outlive its case.
      if (jobId) await (await fleet.services.producer.queue('kicksdb-sync').getJob(jobId))?.remove().catch(() => {});
      await host.close();
    }
    const { rows: audit } = await fleet.db.query(`SELECT coalesce(error, '') || coalesce(detail::text, '') || coalesce(result::text, '') AS text FROM job_runs WHERE job_id = $1`, [jobId]);
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.map((r) => r.text).join('\n')).not.toContain(API_KEY);
  });
});
