// Bad AliExpress export files fed to inventory-import (SPEC §4, docs/inventory-import.md).
// Two outcomes only: a file that is not JSON, not an export, truncated or over a limit fails
// the job at once (one attempt) with a message naming the problem and writes nothing; a file
// that is an export keeps its good rows and rejects each bad one with its position and reason.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { describe, it, expect, beforeEach, afterAll } from 'vitest';
import { useTestFleet } from '../helpers.ts';
import inventoryImport from '../../jobs/inventory-import/index.ts';
import { fixture, removeFixtures, runImport, snapshot, order, item } from '../inventory-import/support.ts';

/** Small enough that an oversized file is cheap to write, large enough for every other case. */
const MAX_BYTES = 4 * 1024 * 1024;
const fleet = useTestFleet({ IMPORT_MAX_BYTES: String(MAX_BYTES) });
afterAll(removeFixtures);

beforeEach(async () => {
  await fleet.db.query('TRUNCATE inventory, job_runs RESTART IDENTITY CASCADE');
  // Present before every import: a failed file that half-wrote would change or add rows, or move stock.
  await fleet.db.query(`INSERT INTO inventory (external_id, title, unit_price, quantity) VALUES ('keep', 'Kept Charm', 1.00, 3)`);
});

/** JSON with raw number text JSON.stringify cannot write ("1e309"): `"<raw:1e309>"` becomes `1e309`. */
const withRaw = (value: unknown) => JSON.stringify(value).replace(/"<raw:([^"]*)>"/g, '$1');
const raw = (text: string) => `<raw:${text}>`;

/** Nested arrays `depth` levels deep, as text (JSON.stringify would recurse that deep). */
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** Good orders placed before the fault: they change 'keep' and add rows, so any partial write shows. */
const goodOrders = [order([item('keep', { quantity: 9 }), item('new-1'), item('new-2', { attributes: 'Color: Gold' })])];

type FileContent = string | Buffer | object;

interface FileCase {
  why: string;
  file: () => FileContent;
  reason: RegExp;
  /** Served over HTTP by this instead of read from a file: the job's source is then a URL. */
  serve?: (res: http.ServerResponse) => void;
}

/** Bytes the endless export below wrote before the worker hung up. */
let streamedBytes = 0;

/** A valid export that never ends, written as fast as the reader takes it. */
function endlessExport(res: http.ServerResponse): void {
  const chunk = JSON.stringify(Array.from({ length: 500 }, (_, i) => order([item(`endless-${i}`)]))).slice(1, -1);
  streamedBytes = 0;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write(`{"orders":[${JSON.stringify(goodOrders[0])}`);
  const pump = () => {
    while (!res.destroyed) {
      streamedBytes += chunk.length + 1;
      if (!res.write(`,${chunk}`)) return void res.once('drain', pump);
    }
  };
  pump();
}

const fileCases: FileCase[] = [
  { why: 'not JSON at all (CSV)', file: () => 'itemId,title,price\n1005006123456789,Charm,$1.00\n', reason: /is not valid JSON/ },
  { why: 'empty file', file: () => '', reason: /is not valid JSON: it ends too early \(empty or truncated\?\): expected a value \(near byte 0\)$/ },
  { why: 'only whitespace', file: () => ' \n\t\n', reason: /is not valid JSON: it ends too early \(empty or truncated\?\): expected a value \(near byte 4\)$/ },
  { why: 'truncated inside a value', file: () => JSON.stringify({ orders: [...goodOrders, order([item('late')])] }).slice(0, -7), reason: /is not valid JSON: it ends too early \(empty or truncated\?\)/ },
  { why: 'truncated between orders', file: () => JSON.stringify({ orders: [...goodOrders, order([item('late')])] }).replace(/,\{"orderId"[^]*$/, ','), reason: /is not valid JSON: it ends too early \(empty or truncated\?\)/ },
  { why: 'truncated after a complete value', file: () => JSON.stringify({ orders: goodOrders }).slice(0, -2), reason: /is not valid JSON: it ends too early \(empty or truncated\?\)/ },
  { why: 'an object without "orders"', file: () => ({ exportedAt: '2025-08-02T17:54:46.302Z', data: goodOrders }), reason: /Not an AliExpress order export: the top-level object has no "orders" array/ },
  { why: 'a top-level string', file: () => JSON.stringify('orders'), reason: /Not an AliExpress order export: the top level must be an object with an "orders" array, or an array of orders/ },
  { why: 'a top-level number', file: () => '42', reason: /the top level must be an object with an "orders" array/ },
  { why: 'a top-level null', file: () => 'null', reason: /the top level must be an object with an "orders" array/ },
  { why: '"orders" is a string', file: () => ({ orders: 'all of them' }), reason: /"orders" must be an array/ },
  { why: '"orders" appears twice', file: () => `{"orders":${JSON.stringify(goodOrders)},"orders":[]}`, reason: /"orders" appears twice/ },
  { why: 'an order that is not an object', file: () => ({ orders: [...goodOrders, 'order #2'] }), reason: /orders\[1\] is not an object/ },
  { why: 'an order whose items is an object', file: () => ({ orders: [...goodOrders, order([]), { ...order([]), items: { 0: item('x') } }] }), reason: /orders\[2\]\.items must be an array/ },
  { why: 'an order whose items is a string', file: () => [...goodOrders, { ...order([]), items: 'see attachment' }], reason: /^Not an AliExpress order export: \[1\]\.items must be an array$/ },
  { why: 'an order whose items is null', file: () => ({ orders: [...goodOrders, { ...order([]), items: null }] }), reason: /orders\[1\]\.items must be an array/ },
  { why: '10,000 nested arrays as the whole file', file: () => nested(10_000), reason: /\[0\] is not an object/ },
  { why: '10,000 nested arrays inside an item', file: () => `{"orders":${JSON.stringify(goodOrders).slice(0, -1)},${JSON.stringify(order([item('deep')])).replace('"quantity":1', `"quantity":1,"extra":${nested(10_000)}`)}]}`, reason: /values nested deeper than 64 levels/ },
  { why: 'a single 2 MB title (over the 1 MB value limit)', file: () => ({ orders: [...goodOrders, order([item('big', { title: 'x'.repeat(2 * 1024 * 1024) })])] }), reason: /holds a single value longer than 1048576 bytes .*not an AliExpress export/ },
  { why: 'a file over IMPORT_MAX_BYTES', file: () => ({ orders: [...goodOrders, ...Array.from({ length: 2_000 }, (_, i) => order([item(`pad-${i}`, { title: 'p'.repeat(2_500) })]))] }), reason: /is larger than IMPORT_MAX_BYTES \(4194304 bytes\); raise the limit or split the export/ },
  { why: 'a gzip-compressed export', file: () => zlib.gzipSync(JSON.stringify({ orders: goodOrders })), reason: /is not valid JSON/ },
  { why: 'random binary behind a PNG signature', file: () => Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), crypto.randomBytes(64 * 1024)]), reason: /is not valid JSON/ },
  { why: 'a raw NUL byte inside a string', file: () => JSON.stringify({ orders: goodOrders }).replace('Moon Star', 'Moon\u0000Star'), reason: /is not valid JSON/ },
  { why: 'two exports back to back', file: () => `${JSON.stringify({ orders: goodOrders })}\n${JSON.stringify({ orders: goodOrders })}`, reason: /is not valid JSON: cannot parse input: unexpected characters/ },
  { why: 'an order with 10,001 items', file: () => ({ orders: [...goodOrders, order(Array.from({ length: 10_001 }, () => ({})))] }), reason: /orders\[1\] has more than 10000 items; split the export/ },
  { why: 'quantities summing past the int range', file: () => ({ orders: [...goodOrders, ...Array.from({ length: 2_200 }, () => order([item('sum', { quantity: 1_000_000 })]))] }), reason: /A quantity summed over the file's orders exceeds 2147483647/ },
  {
    why: 'an endless export from a URL (no Content-Length)',
    file: () => '', serve: endlessExport,
    reason: /^URL http:\/\/127\.0\.0\.1:\d+\/export\.json is larger than IMPORT_MAX_BYTES \(4194304 bytes\); raise the limit or split the export$/,
  },
  {
    why: '5,000 good items (merged batches) and then a malformed order',
    file: () => ({ orders: [...goodOrders, order(Array.from({ length: 5_000 }, (_, i) => item(`bulk-${i}`))), { ...order([]), items: 7 }] }),
    reason: /orders\[2\]\.items must be an array/,
  },
];

async function writeFile(name: string, content: FileContent): Promise<string> {
  if (!Buffer.isBuffer(content)) return fixture(name, content);
  const file = await fixture(name, '');
  await fs.writeFile(file, content);
  return file;
}

const fileName = (why: string) => `${why.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.json`;

describe('inventory-import: files that are not an export', () => {
  it.each(fileCases)('$why: fails at once with a clear message, writing nothing', async ({ why, file, reason, serve }) => {
    const server = serve && http.createServer((_req, res) => serve(res));
    if (server) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const source = server ? { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/export.json` } : { path: await writeFile(fileName(why), file()) };
    const before = await snapshot(fleet);
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const run = await runImport(fleet, { source });
      expect(run.state).toBe('failed');
      expect(run.failedReason).toMatch(reason);
      // Short whatever the file holds: no quote of a 2 MB value.
      expect(run.failedReason!.length).toBeLessThan(500);
      expect(run.attemptsMade).toBe(1); // unrecoverable: the same file fails the same way
      expect(await snapshot(fleet)).toEqual(before);
      // Read up to the limit, then the download is dropped: a little more sits in socket buffers.
      if (serve) expect(streamedBytes).toBeLessThan(2 * MAX_BYTES);
    } finally {
      await host.close();
      server?.closeAllConnections();
      if (server) await new Promise((resolve) => server.close(resolve));
    }
  });
});

interface Landed { external_id: string; variant_key?: string; title?: string; quantity?: number; unit_price?: string; attributes?: unknown; image_url?: string | null; store_name?: string | null }
interface RowCase { why: string; file: () => FileContent; landed: Landed[]; rejected: [at: string, reason: RegExp][]; skippedCancelled?: number }

const longTitle = 'T'.repeat(1_001);
/** Parsed, so "__proto__" is an own key (as it is in a file), already in sorted order. */
const hostileKeys: Record<string, string> = JSON.parse('{"\'; DROP TABLE inventory; --":"x","../../../etc/shadow":"1","__proto__":"p","constructor":"c"}');

const rowCases: RowCase[] = [
  {
    why: 'unicode, emoji, RTL, combining marks and a lone surrogate in titles and attributes',
    file: () => [order([
      item('u1', { title: '🌙 Moon ☾ Pendant 月亮 ✨', attributes: 'Color: 金色, Size: 12mm' }),
      item('u2', { title: 'قلادة ذهبية \u200f مع سلسلة', attributes: { 'لون': 'ذهبي', emoji: '💎' } }),
      item('u3', { title: 'Cafe\u0301 Charm ﷽' }),
      item('u4', { title: 'Lone \ud800 Surrogate' }),
      item('u5', { attributes: 'Color: Go\udc00ld' }),
      item('u6', { attributes: { 'col\ud83dor': 'Gold' } }),
      item('u7', { attributes: { path: 'C:\\ud800' } }), // a backslash and the letters "ud800": plain text
    ])],
    landed: [
      { external_id: 'u1', title: '🌙 Moon ☾ Pendant 月亮 ✨', attributes: { color: '金色', size: '12mm' }, variant_key: '{"color":"金色","size":"12mm"}' },
      { external_id: 'u2', title: 'قلادة ذهبية \u200f مع سلسلة', attributes: { 'لون': 'ذهبي', emoji: '💎' } },
      { external_id: 'u3', title: 'Cafe\u0301 Charm ﷽' },
      { external_id: 'u4', title: 'Lone \ufffd Surrogate' },
      { external_id: 'u7', attributes: { path: 'C:\\ud800' } },
    ],
    // jsonb (attributes, variant_key) cannot hold an unpaired surrogate: the row, not the file, is refused.
    rejected: [
      ['[0].items[4]', /^attributes contain invalid Unicode \(an unpaired surrogate\)$/],
      ['[0].items[5]', /^attributes contain invalid Unicode \(an unpaired surrogate\)$/],
    ],
  },
  {
    why: 'NUL characters (escaped) in an id, a title and attributes',
    file: () => [order([
      item('n1', { title: 'Nul\u0000 Charm' }),
      item('n\u00002'),
      item('n3', { attributes: 'Color: Go\u0000ld' }),
      item('n4', { attributes: { 'col\u0000or': 'Gold' } }),
      item('n5', { title: '\u0000' }),
      item('n6', { title: ' \u0000\u0000 ' }),
    ])],
    // NUL cannot be stored in PostgreSQL text: dropped from a title, the row refused elsewhere.
    landed: [{ external_id: 'n1', title: 'Nul Charm' }],
    rejected: [
      ['[0].items[1]', /^itemId contains control characters$/],
      ['[0].items[2]', /^attributes contain a NUL character$/],
      ['[0].items[3]', /^attributes contain a NUL character$/],
      ['[0].items[4]', /^title is empty$/],
      ['[0].items[5]', /^title is empty$/],
    ],
  },
  {
    why: 'prices in another currency, negative, NaN, infinite, empty, an object',
    file: () => withRaw([order([
      item('p1', { price: 'EUR 2.91' }), item('p2', { price: '2.91 RUB' }), item('p3', { price: '-$1.00' }), item('p4', { price: raw('-2') }),
      item('p5', { price: 'NaN' }), item('p6', { price: raw('1e309') }), item('p7', { price: '' }), item('p8', { price: { amount: 1 } }),
      item('p9', { price: '2.919' }), item('p10', { price: '$123,456,789.00' }), item('p11', { price: null }), item('p12', { price: 'Infinity' }),
      item('ok', { price: 'US $1,299.00' }),
    ])]),
    landed: [{ external_id: 'ok', unit_price: '1299.00' }],
    rejected: [
      ['[0].items[0]', /^price is not in US dollars \(got "EUR 2.91"\)$/],
      ['[0].items[1]', /^price is not in US dollars \(got "2.91 RUB"\)$/],
      ['[0].items[2]', /^price is negative \(got "-\$1.00"\)$/],
      ['[0].items[3]', /^price is negative \(got -2\)$/],
      ['[0].items[4]', /^price is not a recognised format \(got "NaN"\)$/],
      ['[0].items[5]', /^price is not a recognised format \(got 1e309\)$/],
      ['[0].items[6]', /^price is empty$/],
      ['[0].items[7]', /^price must be a string or a number$/],
      ['[0].items[8]', /^price has more than two decimals \(got 2.919\)$/],
      ['[0].items[9]', /^price is too large \(got "\$123,456,789.00"\)$/],
      ['[0].items[10]', /^price is missing$/],
      ['[0].items[11]', /^price is not a recognised format \(got "Infinity"\)$/],
    ],
  },
  {
    why: 'quantities 0, -1, 1.5, 1e309, a word, true, null, over the cap, an array',
    file: () => withRaw({ orders: [order([
      item('q1', { quantity: 0 }), item('q2', { quantity: -1 }), item('q3', { quantity: 1.5 }), item('q4', { quantity: raw('1e309') }),
      item('q5', { quantity: 'three' }), item('q6', { quantity: true }), item('q7', { quantity: null }), item('q8', { quantity: 1_000_001 }),
      item('q9', { quantity: [1] }), item('q10', { quantity: '' }),
      item('ok', { quantity: '3.0' }),
    ])] }),
    landed: [{ external_id: 'ok', quantity: 3 }],
    rejected: [
      ['orders[0].items[0]', /^quantity must be a positive integer \(got 0\)$/],
      ['orders[0].items[1]', /^quantity must be a positive integer \(got -1\)$/],
      ['orders[0].items[2]', /^quantity must be a positive integer \(got 1.5\)$/],
      ['orders[0].items[3]', /^quantity must be a positive integer \(got 1e309\)$/],
      ['orders[0].items[4]', /^quantity must be a positive integer \(got "three"\)$/],
      ['orders[0].items[5]', /^quantity must be a positive integer \(got true\)$/],
      ['orders[0].items[6]', /^quantity is missing$/],
      ['orders[0].items[7]', /^quantity is larger than 1000000 \(got 1000001\)$/],
      ['orders[0].items[8]', /^quantity must be a string or a number$/],
      ['orders[0].items[9]', /^quantity must be a positive integer \(got ""\)$/],
    ],
  },
  {
    why: 'itemId missing, null, an object, an array, empty, a boolean, too long; a numeric id is fine',
    file: () => withRaw({ orders: [order([
      { title: 'No Id Charm', price: '$1', quantity: 1 }, item('i', { itemId: null }), item('i', { itemId: { id: 1 } }), item('i', { itemId: ['a'] }),
      item(''), item('i', { itemId: true }), item('x'.repeat(65)),
      item('i', { itemId: raw('1005006123456789') }),
    ])] }),
    landed: [{ external_id: '1005006123456789' }],
    rejected: [
      ['orders[0].items[0]', /^itemId is missing$/],
      ['orders[0].items[1]', /^itemId is missing$/],
      ['orders[0].items[2]', /^itemId must be a string or a number$/],
      ['orders[0].items[3]', /^itemId must be a string or a number$/],
      ['orders[0].items[4]', /^itemId must be a string or a number \(got ""\)$/],
      ['orders[0].items[5]', /^itemId must be a string or a number \(got true\)$/],
      ['orders[0].items[6]', /^itemId is longer than 64 characters$/],
    ],
  },
  {
    why: 'path-like and SQL-like attribute keys, ids and titles are only data',
    file: () => ({ orders: [order([
      item('s1', { attributes: '../../etc: passwd, Note: \'; DROP TABLE inventory; --' }),
      item('s2', { attributes: hostileKeys }),
      item("s3'; DELETE FROM inventory; --", { title: "Robert'); DROP TABLE stock_movements;--" }),
      item('s4', { title: 'Tab\tNew\nLine\\N Back\\slash' }),
    ])] }),
    landed: [
      { external_id: 's1', attributes: { '../../etc': 'passwd', note: "'; DROP TABLE inventory; --" } },
      { external_id: 's2', variant_key: JSON.stringify(hostileKeys) },
      { external_id: "s3'; DELETE FROM inventory; --", title: "Robert'); DROP TABLE stock_movements;--" },
      { external_id: 's4', title: 'Tab\tNew\nLine\\N Back\\slash' },
    ],
    rejected: [],
  },
  {
    why: 'malformed attributes: an array, a nested value, no colon, 33 of them, a key twice',
    file: () => ({ orders: [order([
      item('a1', { attributes: ['Gold'] }), item('a2', { attributes: { color: { r: 1 } } }), item('a3', { attributes: 'Gold' }),
      item('a4', { attributes: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }),
      item('a5', { attributes: 'Color: Gold, color: Silver' }), item('a6', { attributes: ': Gold' }),
      item('ok', { attributes: 'Color: Gold' }),
    ])] }),
    landed: [{ external_id: 'ok', attributes: { color: 'Gold' } }],
    rejected: [
      ['orders[0].items[0]', /^attributes must be text or an object$/],
      ['orders[0].items[1]', /^attribute values must be text, numbers, booleans or null$/],
      ['orders[0].items[2]', /^attributes must be "Name: value" pairs \(got "Gold"\)$/],
      ['orders[0].items[3]', /^more than 32 attributes$/],
      ['orders[0].items[4]', /^attribute "color" appears twice/],
      ['orders[0].items[5]', /^attribute without a name/],
    ],
  },
  {
    why: 'oversized fields under the 1 MB value limit',
    file: () => ({ orders: [order([
      item('l1', { title: longTitle }), item('l2', { title: 'x'.repeat(500_000) }), item('l3', { attributes: `Color: ${'g'.repeat(201)}` }),
      item('l4', { attributes: { ['k'.repeat(65)]: 'v' } }), item('l5', { attributes: `${'k'.repeat(65)}: v` }),
      item('l6', { attributes: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`key${i}`, 'v'.repeat(40)])) }),
      item('ok', { imageUrl: `https://ae01.alicdn.com/kf/${'i'.repeat(5_000)}.jpg` }),
    ], { storeName: 'S'.repeat(10_000) })] }),
    // A bad image URL or an overlong store name is not worth losing the stock count.
    landed: [{ external_id: 'ok', image_url: null, store_name: 'S'.repeat(200) }],
    rejected: [
      ['orders[0].items[0]', /^title is longer than 1000 characters$/],
      ['orders[0].items[1]', /^title is longer than 1000 characters$/],
      ['orders[0].items[2]', /^attribute "color" is longer than 200 characters$/],
      ['orders[0].items[3]', /^attribute name longer than 64 characters$/],
      ['orders[0].items[4]', /^attribute name longer than 64 characters$/],
      ['orders[0].items[5]', /^attributes longer than 1000 characters in all$/],
    ],
  },
  {
    why: 'items that are not objects, and fields of the wrong type',
    file: () => ({ orders: [order([
      'item', 42, null, [item('in-array')], true,
      item('w1', { title: { en: 'Charm' } }), item('w2', { imageUrl: ['a'] }),
      item('ok', { extra: { nested: [[[[[[[[[[{ deep: true }]]]]]]]]]] }, imageUrl: 'javascript:alert(1)' }),
    ])] }),
    landed: [{ external_id: 'ok', image_url: null }],
    rejected: [
      ['orders[0].items[0]', /^item is not an object$/],
      ['orders[0].items[1]', /^item is not an object$/],
      ['orders[0].items[2]', /^item is not an object$/],
      ['orders[0].items[3]', /^item is not an object$/],
      ['orders[0].items[4]', /^item is not an object$/],
      ['orders[0].items[5]', /^title must be a string or a number$/],
      ['orders[0].items[6]', /^imageUrl must be a string or a number$/],
    ],
  },
  {
    why: 'order fields of the wrong type count as absent; a shouting "CANCELLED " still cancels',
    file: () => ({ orders: [
      order([item('o1')], { orderId: { id: 1 }, orderDate: 'last tuesday', status: 404, storeName: ['x'] }),
      order([item('o2', { quantity: 5 })], { status: ' CANCELLED ' }),
    ] }),
    landed: [{ external_id: 'o1', quantity: 1, store_name: null }],
    rejected: [],
    skippedCancelled: 1,
  },
  {
    why: 'a byte-order mark and bytes that are not UTF-8 inside a title',
    file: () => Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify([order([item('b1', { title: 'Bad BYTE Charm' }), item('b2')])]).replace('BYTE', '\u0001'), 'utf8'),
    ]).map((b) => (b === 0x01 ? 0xff : b)),
    landed: [{ external_id: 'b1', title: 'Bad \ufffd Charm' }, { external_id: 'b2' }],
    rejected: [],
  },
];

describe('inventory-import: exports with bad rows', () => {
  it.each(rowCases)('$why: bad rows rejected with position and reason, good rows land', async ({ why, file, landed, rejected, skippedCancelled = 0 }) => {
    const path = await writeFile(fileName(why), file());
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const run = await runImport(fleet, { source: { path } });
      expect(run.state, run.failedReason).toBe('completed');
      expect(run.result).toMatchObject({ inserted: landed.length, rejected: rejected.length, skippedCancelled, movements: 0 });
      expect(run.result.errors.map((e) => e.at)).toEqual(rejected.map(([at]) => at));
      run.result.errors.forEach((e, i) => {
        expect(e.reason, e.at).toMatch(rejected[i]![1]);
        expect(e.reason.length, e.at).toBeLessThan(200); // a hostile value is quoted shortened, if at all
        expect(e.order, e.at).toBe(Number(/\[(\d+)\]\.items/.exec(e.at)![1]));
        expect(e.item, e.at).toBe(Number(/items\[(\d+)\]$/.exec(e.at)![1]));
      });
      const { rows } = await fleet.db.query(`
        SELECT external_id, variant_key, title, quantity, unit_price::text, attributes, image_url, store_name
        FROM inventory WHERE external_id <> 'keep' ORDER BY external_id COLLATE "C", variant_key`);
      expect(rows).toMatchObject([...landed].sort((a, b) => (a.external_id < b.external_id ? -1 : 1)));
      // The base row is untouched, and the tables are still there for the next case.
      const { rows: keep } = await fleet.db.query(`SELECT quantity FROM inventory WHERE external_id = 'keep'`);
      expect(keep).toEqual([{ quantity: 3 }]);
      const { rows: [moves] } = await fleet.db.query(`SELECT count(*)::int AS n FROM stock_movements`);
      expect(moves.n).toBe(0);
    } finally {
      await host.close();
    }
  });
});
