import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { useTestFleet } from '../helpers.ts';
import type { AnyJob } from '../../shared/job.ts';
import imageMigration from '../../jobs/image-migration/index.ts';
import type { ImageMigrationResult } from '../../jobs/image-migration/handler.ts';
import { startImageServer, type ImageServer } from './fixtures/server.ts';
import * as corpus from './fixtures/corpus.ts';
import { PUBLIC_BASE, insertInventory, listObjects, runToResult } from './support.ts';

// Private networks refused, as in production. The image host listens on 127.0.0.2, allowed
// by address (IMAGE_ALLOW_ADDRESSES), so redirects from it to other private addresses are
// what gets refused.
const fleet = useTestFleet({
  IMAGE_SOURCE_HOSTS: '127.0.0.1,127.0.0.2,169.254.169.254',
  IMAGE_ALLOW_PRIVATE_NETWORKS: 'false',
  IMAGE_ALLOW_ADDRESSES: '127.0.0.2',
  IMAGE_PUBLIC_BASE_URL: PUBLIC_BASE,
});
let srv: ImageServer;
let loopback: ImageServer;

beforeAll(async () => {
  srv = await startImageServer('127.0.0.2');
  loopback = await startImageServer('127.0.0.1');
});
afterAll(async () => { await srv?.close(); await loopback?.close(); });

const migrate = async (payload: unknown) => {
  const run = await runToResult<ImageMigrationResult>(fleet, imageMigration as AnyJob, payload);
  expect(run.failedReason).toBeUndefined();
  return run.result;
};

describe('image-migration refusals', () => {
  it('refuses each bad source with its own reason, uploads nothing for it, and finishes the batch', async () => {
    const good = await corpus.photoJpeg(800, 600);
    loopback.route('/inside.jpg', { body: good });
    const cases: [string, string, RegExp | string][] = [
      ['truncated', srv.route('/truncated.jpg', { body: await corpus.truncatedJpeg() }), /^jpeg could not be decoded: .*(premature end|truncated)/i],
      ['text', srv.route('/text.jpg', { body: corpus.textFile, type: 'image/jpeg' }), 'not an image: the body is text'],
      ['svg', srv.route('/logo.png', { body: corpus.svgImage, type: 'image/png' }), 'SVG images are refused (may carry scripts; type from magic bytes)'],
      ['bomb', srv.route('/bomb.png', { body: corpus.pngBomb(), type: 'image/png' }), '20000×20000 is 400 megapixels, over the 50 MP limit (decompression bomb?)'],
      ['11 MB', srv.route('/huge.jpg', { body: corpus.oversized(11 * 1024 * 1024) }), 'image is 11 MB, over the 10 MB limit'],
      ['redirect to loopback', srv.route('/to-loopback.jpg', { redirect: loopback.url('/inside.jpg') }),
        'host "127.0.0.1" resolves to 127.0.0.1 is a loopback address and private networks are refused (IMAGE_ALLOW_PRIVATE_NETWORKS)'],
      ['redirect to metadata', srv.route('/to-metadata.jpg', { redirect: 'http://169.254.169.254/latest/meta-data/' }),
        'host "169.254.169.254" resolves to 169.254.169.254 is a cloud metadata endpoint (always refused)'],
      ['loopback', loopback.url('/inside.jpg'), /^host "127\.0\.0\.1" resolves to 127\.0\.0\.1 is a loopback address/],
      ['outside host', 'https://images.outside.test/a.jpg', 'host "images.outside.test" is not in IMAGE_SOURCE_HOSTS'],
      ['missing', srv.url('/missing.jpg'), /^HTTP 404 from http:\/\/127\.0\.0\.2:\d+\/missing\.jpg$/],
      ['busy', srv.route('/busy.jpg', { status: 503, body: Buffer.from('try later') }), /^HTTP 503 from/],
    ];
    srv.route('/good.jpg', { body: good });
    const ids = await insertInventory(fleet, [...cases.map(([, url]) => ({ image_url: url })), { image_url: srv.url('/good.jpg') }]);
    const goodId = ids.at(-1)!;

    const res = await migrate({ table: 'inventory' });
    expect(res.migrated).toBe(1);
    expect(res.uploaded).toBe(4);
    expect(res.failedTotal).toBe(cases.length);
    cases.forEach(([what, , reason], i) => {
      const f = res.failed.find((x) => x.id === ids[i]);
      expect(f, what).toBeDefined();
      if (typeof reason === 'string') expect(f!.reason, what).toBe(reason);
      else expect(f!.reason, what).toMatch(reason);
    });
    expect(loopback.hits('/inside.jpg')).toBe(0);
    // Nothing but the good image's four variants reached the bucket.
    expect((await listObjects(fleet)).map((o) => o.key.split('/')[1])).toEqual([goodId, goodId, goodId, goodId]);
    const { rows } = await fleet.db.query(`SELECT count(*)::int AS n FROM inventory WHERE image_migrated_at IS NOT NULL`);
    expect(rows[0].n).toBe(1);

    const { rows: recorded } = await fleet.db.query(`SELECT row_id, permanent, attempts FROM image_migration_failures ORDER BY row_id::bigint`);
    expect(recorded).toHaveLength(cases.length);
    expect(recorded.filter((r) => !r.permanent).map((r) => r.row_id)).toEqual([ids[cases.length - 1]]);
    const { rows: audit } = await fleet.db.query(`SELECT detail FROM job_runs WHERE queue = 'image-migration' AND state = 'completed' ORDER BY id DESC LIMIT 1`);
    expect(audit[0].detail.failed).toHaveLength(cases.length);

    // A scheduled scan leaves permanent failures alone and retries the transient one.
    const hits = srv.hits('/text.jpg');
    const scan = await migrate({});
    expect(scan.failed.map((f) => f.id)).toEqual([ids[cases.length - 1]]);
    expect(srv.hits('/text.jpg')).toBe(hits);
    // Naming the rows retries them all.
    const named = await migrate({ table: 'inventory', ids: ids.slice(0, 2) });
    const byId = Object.fromEntries(named.failed.map((f) => [f.id, f.reason]));
    expect(byId).toEqual({ [ids[0]!]: res.failed.find((f) => f.id === ids[0])!.reason, [ids[1]!]: 'not an image: the body is text' });
    expect(srv.hits('/text.jpg')).toBe(hits + 1);
  });
});
