// Bad image sources for image-migration, one row each, all in ONE batch with good images:
// every bad row is listed in `failed` with its own reason, nothing is uploaded for it, its
// image_url is untouched, and the good images of the same batch still migrate.
import http from 'node:http';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import sharp from 'sharp';
import { useTestFleet, runJob } from '../helpers.ts';
import { startHost } from '../../shared/host.ts';
import { createLogger } from '../../shared/logger.ts';
import imageMigration from '../../jobs/image-migration/index.ts';
import { MAX_FRAMES } from '../../jobs/image-migration/render.ts';
import type { AnyJob } from '../../shared/job.ts';
import type { ImageMigrationResult } from '../../jobs/image-migration/handler.ts';
import { startImageServer, type ImageServer } from '../images/fixtures/server.ts';
import * as corpus from '../images/fixtures/corpus.ts';
import { PUBLIC_BASE, insertInventory, listObjects, getObject } from '../images/support.ts';

const TIMEOUT_MS = 2_000;
// Private networks refused, as in production: the image host listens on 127.0.0.2, allowed by
// address, so what a redirect (or a URL) reaches beyond it is what gets refused.
const fleet = useTestFleet({
  IMAGE_SOURCE_HOSTS: '127.0.0.1,127.0.0.2,169.254.169.254,::1',
  IMAGE_ALLOW_PRIVATE_NETWORKS: 'false',
  IMAGE_ALLOW_ADDRESSES: '127.0.0.2',
  IMAGE_PUBLIC_BASE_URL: PUBLIC_BASE,
  IMAGE_DOWNLOAD_TIMEOUT_MS: String(TIMEOUT_MS),
});

/** Must appear in no failure reason, log line or audit row. */
const SECRET = 'Hunter2-url-secret-5c1e';

/** A server whose bodies never end: fast (as fast as the client reads) or one byte per 100 ms. */
interface EndlessServer { origin: string; sent(path: string): number; close(): Promise<void> }

async function startEndlessServer(host: string): Promise<EndlessServer> {
  const sent = new Map<string, number>();
  const chunk = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(65_532)]);
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    res.writeHead(200, { 'content-type': 'image/jpeg' }); // no Content-Length: chunked
    sent.set(path, 0);
    const count = (n: number) => sent.set(path, (sent.get(path) ?? 0) + n);
    if (path === '/drip.jpg') {
      res.write(chunk.subarray(0, 4));
      const timer = setInterval(() => { res.write('x'); count(1); }, 100);
      res.on('close', () => clearInterval(timer));
      return;
    }
    const pump = () => {
      while (!res.destroyed) {
        count(chunk.length);
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
    };
    pump();
  });
  await new Promise<void>((ok) => server.listen(0, host, ok));
  return {
    origin: `http://${host}:${(server.address() as AddressInfo).port}`,
    sent: (path) => sent.get(path) ?? 0,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

/** A valid PNG signature and IHDR claiming width × height, followed by 100 bytes of pixels. */
function lyingPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    corpus.pngChunk('IHDR', ihdr), corpus.pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(100))), corpus.pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const html = Buffer.from('<!DOCTYPE html>\n<html><head><title>Login</title></head><body><img src=x onerror="alert(1)"></body></html>\n');
// A PDF whose first kilobyte is all text (so only the magic bytes tell it from a text file).
const pdf = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');
const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.alloc(4), Buffer.from('mif1heic'), Buffer.alloc(40)]);
const bmp = Buffer.concat([Buffer.from('BM'), Buffer.alloc(60, 1)]);
const jpegGarbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(3_000, 7)]);

interface Hosts { img: ImageServer; inside: ImageServer; endless: EndlessServer }
interface Row {
  why: string;
  /** Sets up what the row's URL serves and returns the URL stored in image_url. */
  source(h: Hosts): string | Promise<string>;
  reason: string | RegExp;
  /** A failure a later scheduled run may retry (timeouts, 5xx); all others are permanent. */
  transient?: boolean;
}

const port = (s: { origin: string }) => new URL(s.origin).port;

const rows: Row[] = [
  // What the bytes are
  { why: 'truncated JPEG', source: async ({ img }) => img.route('/truncated.jpg', { body: await corpus.truncatedJpeg() }),
    // libvips names the warning, or (decoding beside other images) only says one was raised.
    reason: /^jpeg could not be decoded: (VipsJpeg: premature end of JPEG image|corrupt or truncated image data \(the decoder warned\))/ },
  { why: 'JPEG magic bytes, then garbage', source: ({ img }) => img.route('/garbage.jpg', { body: jpegGarbage }), reason: /^unreadable jpeg header: / },
  { why: 'text file named .jpg, served as image/jpeg', source: ({ img }) => img.route('/text.jpg', { body: corpus.textFile, type: 'image/jpeg' }),
    reason: 'not an image: the body is text' },
  { why: 'SVG with a <script>, named .png', source: ({ img }) => img.route('/logo.png', { body: corpus.svgImage, type: 'image/png' }),
    reason: 'SVG images are refused (may carry scripts; type from magic bytes)' },
  { why: 'HTML page served as image/jpeg', source: ({ img }) => img.route('/login.jpg', { body: html, type: 'image/jpeg' }),
    reason: 'not an image: the body is an HTML page' },
  { why: 'PDF named .jpg', source: ({ img }) => img.route('/doc.jpg', { body: pdf }), reason: 'not an image: PDF document' },
  { why: 'TIFF (not an accepted format)', source: async ({ img }) => img.route('/scan.jpg', {
    body: await sharp({ create: { width: 50, height: 50, channels: 3, background: '#f00' } }).tiff().toBuffer(), type: 'image/tiff' }),
  reason: 'unsupported image type: TIFF' },
  { why: 'BMP', source: ({ img }) => img.route('/old.bmp', { body: bmp, type: 'image/bmp' }), reason: 'unsupported image type: BMP' },
  { why: 'HEIC', source: ({ img }) => img.route('/phone.heic', { body: heic, type: 'image/heic' }),
    reason: 'unsupported image type: ISO media "heic" (HEIC and video are not accepted)' },
  { why: '0-byte body', source: ({ img }) => img.route('/empty.jpg', { body: Buffer.alloc(0) }), reason: 'not an image: only 0 bytes' },
  // Decompression bombs and lying headers: refused from the header, before any pixel is decoded
  { why: '20000×20000 PNG bomb (a few KB on the wire)', source: ({ img }) => img.route('/bomb.png', { body: corpus.pngBomb(), type: 'image/png' }),
    reason: '20000×20000 is 400 megapixels, over the 50 MP limit (decompression bomb?)' },
  { why: 'PNG header claiming 100000×100000 over 100 bytes of pixels', source: ({ img }) => img.route('/liar.png', { body: lyingPng(100_000, 100_000) }),
    reason: '100000×100000 is 10000 megapixels, over the 50 MP limit (decompression bomb?)' },
  { why: 'PNG header claiming 2^31−1 square', source: ({ img }) => img.route('/max.png', { body: lyingPng(0x7fffffff, 0x7fffffff) }),
    reason: /^unreadable png header: / },
  { why: 'PNG header claiming 49 MP (under the limit) over 100 bytes of pixels', source: ({ img }) => img.route('/short.png', { body: lyingPng(7_000, 7_000) }),
    reason: /^png could not be decoded: / },
  // Size and time
  { why: '11 MB file (Content-Length)', source: ({ img }) => img.route('/huge.jpg', { body: corpus.oversized(11 * 1024 * 1024) }),
    reason: 'image is 11 MB, over the 10 MB limit' },
  { why: 'a body that never ends (chunked, fast)', source: ({ endless }) => `${endless.origin}/endless.jpg`, reason: 'image is over the 10 MB limit' },
  { why: 'a body that never ends (chunked, one byte per 100 ms)', source: ({ endless }) => `${endless.origin}/drip.jpg`,
    reason: `download timed out after ${TIMEOUT_MS} ms`, transient: true },
  // Where the URL leads
  { why: 'redirect loop', source: ({ img }) => { img.route('/loop-b', { redirect: '/loop-a' }); return img.route('/loop-a', { redirect: '/loop-b' }); },
    reason: 'more than 3 redirects' },
  { why: 'redirect to 127.0.0.1', source: ({ img, inside }) => img.route('/to-loopback.jpg', { redirect: inside.url('/inside.jpg') }),
    reason: 'host "127.0.0.1" resolves to 127.0.0.1 is a loopback address and private networks are refused (IMAGE_ALLOW_PRIVATE_NETWORKS)' },
  { why: 'redirect to 169.254.169.254 (cloud metadata)', source: ({ img }) => img.route('/to-metadata.jpg', { redirect: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }),
    reason: 'host "169.254.169.254" resolves to 169.254.169.254 is a cloud metadata endpoint (always refused)' },
  { why: '127.0.0.1 directly', source: ({ inside }) => inside.url('/inside.jpg'), reason: /^host "127\.0\.0\.1" resolves to 127\.0\.0\.1 is a loopback address/ },
  { why: '127.0.0.1 spelled as the decimal 2130706433', source: ({ inside }) => `http://2130706433:${port(inside)}/inside.jpg`,
    reason: /^host "127\.0\.0\.1" resolves to 127\.0\.0\.1 is a loopback address/ },
  { why: 'IPv6 loopback [::1]', source: ({ inside }) => `http://[::1]:${port(inside)}/inside.jpg`, reason: /^host "::1" resolves to ::1 is a loopback address/ },
  { why: 'host outside IMAGE_SOURCE_HOSTS', source: () => 'https://images.outside.test/a.jpg', reason: 'host "images.outside.test" is not in IMAGE_SOURCE_HOSTS' },
  { why: 'URL with user:password', source: ({ img }) => `http://user:${SECRET}@127.0.0.2:${port(img)}/cred.jpg`, reason: 'URLs with credentials are refused' },
  { why: 'redirect to a URL with user:password', source: ({ img }) => img.route('/to-cred.jpg', { redirect: `http://user:${SECRET}@127.0.0.2:${port(img)}/cred.jpg` }),
    reason: 'URLs with credentials are refused (redirect 1)' },
  { why: 'signed URL that 404s (the signature stays out of the reason)', source: ({ img }) => img.url(`/signed.jpg?X-Amz-Signature=${SECRET}`),
    reason: /^HTTP 404 from http:\/\/127\.0\.0\.2:\d+\/signed\.jpg$/ },
  { why: 'file:///etc/passwd', source: () => 'file:///etc/passwd', reason: 'only http(s) URLs are fetched, not file:' },
  { why: 'ftp:// URL', source: () => 'ftp://127.0.0.2/pub/a.jpg', reason: 'only http(s) URLs are fetched, not ftp:' },
  { why: 'data: URL', source: () => `data:image/png;base64,${corpus.pngBomb(1_000).toString('base64')}`, reason: 'only http(s) URLs are fetched, not data:' },
  { why: 'not a URL at all', source: () => 'images/../../etc/passwd', reason: 'not a valid URL' },
  { why: "'../' path segments (resolved on the allowed host, never a local file)", source: ({ img }) => `${img.origin}/img/../../../etc/passwd`,
    reason: /^HTTP 404 from http:\/\/127\.0\.0\.2:\d+\/etc\/passwd$/ },
];

let hosts: Hosts;
let ids: string[];
let goodIds: string[];
let gifId: string;
let before: { id: string; image_url: string }[];
let res: ImageMigrationResult;
let logs = '';

beforeAll(async () => {
  hosts = {
    img: await startImageServer('127.0.0.2'),
    inside: await startImageServer('127.0.0.1'),
    endless: await startEndlessServer('127.0.0.2'),
  };
  hosts.inside.route('/inside.jpg', { body: await corpus.photoJpeg(64, 64) });
  hosts.img.route('/cred.jpg', { body: await corpus.photoJpeg(64, 64) });
  const sources = [];
  for (const r of rows) sources.push(await r.source(hosts));
  hosts.img.route('/good-1.jpg', { body: await corpus.photoJpeg(800, 600, 1) });
  hosts.img.route('/good-2.jpg', { body: await corpus.photoJpeg(700, 500, 2) });
  hosts.img.route('/frames.gif', { body: await corpus.animatedGif(10_000, 16), type: 'image/gif' });
  const all = await insertInventory(fleet, [
    ...sources.map((image_url) => ({ image_url })),
    { image_url: hosts.img.url('/good-1.jpg') }, { r2_url: hosts.img.url('/good-2.jpg') }, { image_url: hosts.img.url('/frames.gif') },
  ]);
  ids = all.slice(0, rows.length);
  goodIds = all.slice(rows.length, rows.length + 2);
  gifId = all.at(-1)!;
  before = (await fleet.db.query(`SELECT id::text, image_url FROM inventory ORDER BY id`)).rows;

  // The real host, with its logs captured at trace level instead of silenced.
  const log = createLogger('trace', { write: (line: string) => { logs += line; } });
  const host = await startHost({ ...fleet.services, log }, [imageMigration as AnyJob]);
  try {
    const run = await runJob(fleet, 'image-migration', { table: 'inventory' });
    expect(run.state, run.failedReason).toBe('completed');
    expect(run.attemptsMade).toBe(1);
    // Read again: the copy runJob saw can predate the return value.
    res = (await fleet.services.producer.queue('image-migration').getJob(run.id))!.returnvalue as ImageMigrationResult;
  } finally {
    await host.close();
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([hosts?.img.close(), hosts?.inside.close(), hosts?.endless.close()]);
});

describe('bad image sources, one batch', () => {
  it('covers at least 10 bad sources, each with its own label', () => {
    expect(rows.length).toBeGreaterThanOrEqual(10);
    expect(new Set(rows.map((r) => r.why)).size).toBe(rows.length);
  });

  it.each(rows.map((r, i) => ({ ...r, i })))('$why: failed with its reason, nothing uploaded, image_url unchanged', async ({ i, reason, transient }) => {
    const id = ids[i]!;
    const f = res.failed.find((x) => x.id === id);
    expect(f, 'listed in failed').toBeDefined();
    expect(f!.table).toBe('inventory');
    if (typeof reason === 'string') expect(f!.reason).toBe(reason);
    else expect(f!.reason).toMatch(reason);
    expect(f!.reason).not.toContain(SECRET);
    expect(await listObjects(fleet, `inventory/${id}/`)).toEqual([]);
    const { rows: [row] } = await fleet.db.query(`SELECT image_url, image_migrated_at, image_source_sha256 FROM inventory WHERE id = $1`, [id]);
    expect(row.image_url).toBe(before.find((b) => b.id === id)!.image_url);
    expect(row.image_migrated_at).toBeNull();
    expect(row.image_source_sha256).toBeNull();
    // Recorded, so scheduled scans leave permanent failures alone and retry transient ones.
    const { rows: [rec] } = await fleet.db.query(`SELECT reason, permanent FROM image_migration_failures WHERE table_name = 'inventory' AND row_id = $1`, [id]);
    expect(rec).toEqual({ reason: f!.reason, permanent: !transient });
  });

  it('the good images of the same batch migrate; nothing else reaches the bucket', async () => {
    expect(res.failedTotal).toBe(rows.length);
    expect(res.failed).toHaveLength(rows.length);
    expect(res.migrated).toBe(3);
    expect(res.uploaded).toBe(12);
    const owners = [...new Set((await listObjects(fleet)).map((o) => o.key.split('/')[1]))].sort();
    expect(owners).toEqual([...goodIds, gifId].sort());
    const { rows: migrated } = await fleet.db.query(`SELECT id::text, image_url FROM inventory WHERE image_migrated_at IS NOT NULL ORDER BY id`);
    expect(migrated.map((r) => r.id)).toEqual([...goodIds, gifId].sort((a, b) => Number(a) - Number(b)));
    for (const r of migrated) expect(r.image_url).toMatch(new RegExp(`^${PUBLIC_BASE}/inventory/${r.id}/[0-9a-f]{64}-1280\\.webp$`));
  });

  it('an animated GIF of 10,000 frames is kept to its first frames, not decoded whole', async () => {
    const full = (await listObjects(fleet, `inventory/${gifId}/`)).find((o) => o.key.endsWith('-full.gif'));
    expect(full).toBeDefined();
    const meta = await sharp(await getObject(fleet, full!.key)).metadata();
    expect(meta.pages).toBe(MAX_FRAMES);
  });

  it('nothing beyond the allowed host was contacted, and endless bodies were cut off', () => {
    expect(hosts.inside.hits('/inside.jpg')).toBe(0);
    expect(hosts.img.hits('/cred.jpg')).toBe(0);
    // Hung up at 10 MB instead of reading on: at most that plus socket buffers were sent.
    expect(hosts.endless.sent('/endless.jpg')).toBeGreaterThan(10 * 1024 * 1024);
    expect(hosts.endless.sent('/endless.jpg')).toBeLessThan(32 * 1024 * 1024);
    expect(hosts.endless.sent('/drip.jpg')).toBeLessThan(TIMEOUT_MS / 100 + 5);
  });

  it('no secret from a URL reaches the logs or the audit row', async () => {
    expect(logs.match(/"image not migrated"/g)).toHaveLength(rows.length);
    expect(logs).toMatch(/"job completed"/);
    expect(logs).not.toContain(SECRET);
    const { rows: audit } = await fleet.db.query(`SELECT payload, result, detail, error FROM job_runs WHERE queue = 'image-migration'`);
    expect(audit).toHaveLength(1);
    expect(audit[0].detail.failed).toHaveLength(rows.length);
    expect(JSON.stringify(audit)).not.toContain(SECRET);
  });
});
