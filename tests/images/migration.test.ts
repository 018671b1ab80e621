import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import sharp from 'sharp';
import { useTestFleet } from '../helpers.ts';
import type { AnyJob } from '../../shared/job.ts';
import imageMigration from '../../jobs/image-migration/index.ts';
import type { ImageMigrationResult } from '../../jobs/image-migration/handler.ts';
import { startImageServer, type ImageServer } from './fixtures/server.ts';
import * as corpus from './fixtures/corpus.ts';
import { PUBLIC_BASE, sha256, insertInventory, listObjects, getObject, headObject, runToResult } from './support.ts';

const fleet = useTestFleet({ IMAGE_SOURCE_HOSTS: '127.0.0.1', IMAGE_PUBLIC_BASE_URL: PUBLIC_BASE });
let srv: ImageServer;
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  srv = await startImageServer();
  Object.assign(files, {
    exif: await corpus.exifRotatedJpeg(), alpha: await corpus.alphaPng(), cmyk: await corpus.cmykJpeg(),
    gif5: await corpus.animatedGif(5), gif80: await corpus.animatedGif(80, 24), small: await corpus.photoJpeg(200, 150, 2),
    photo: await corpus.photoJpeg(1600, 1200, 3),
  });
  for (const [name, body] of Object.entries(files)) srv.route(`/${name}`, { body, type: 'application/octet-stream' });
});
afterAll(async () => { await srv?.close(); });

async function migrate(payload: unknown): Promise<ImageMigrationResult> {
  const run = await runToResult<ImageMigrationResult>(fleet, imageMigration as AnyJob, payload);
  expect(run.failedReason).toBeUndefined();
  return run.result;
}

const pixel = async (img: Buffer, x: number, y: number) => {
  const { data, info } = await sharp(img).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
};
const keysOf = (id: string, sha: string, full: string) => [`inventory/${id}/${sha}-1280.webp`, `inventory/${id}/${sha}-320.webp`, `inventory/${id}/${sha}-640.webp`, `inventory/${id}/${sha}-full.${full}`];

describe('image-migration', () => {
  let ids: Record<string, string> = {};

  it('migrates the corpus: upright, alpha kept, sRGB, animated, never upscaled', async () => {
    const names = Object.keys(files);
    // The exif row also has an image_url on an unlisted host: r2_url is the source when present.
    const rowIds = await insertInventory(fleet, names.map((n) => (n === 'exif'
      ? { r2_url: srv.url('/exif'), image_url: 'https://ae01.alicdn.com/kf/legacy.jpg' }
      : { image_url: srv.url(`/${n}`) })));
    ids = Object.fromEntries(names.map((n, i) => [n, rowIds[i]!]));

    const res = await migrate({ table: 'inventory' });
    expect(res).toMatchObject({ migrated: 7, skipped: 0, failed: [], uploaded: 28, reused: 0, dryRun: false });
    expect(res.bytesIn).toBe(Object.values(files).reduce((n, b) => n + b.length, 0));
    expect(res.bytesOut).toBeGreaterThan(0);

    const { rows } = await fleet.db.query(`SELECT id::text, image_url, r2_url, image_source_sha256, image_source_url, image_migrated_at FROM inventory ORDER BY id`);
    const row = (n: string) => rows.find((r) => r.id === ids[n])!;
    for (const n of names) {
      const sha = sha256(files[n]!);
      expect(row(n).image_source_sha256).toBe(sha);
      expect(row(n).image_url).toBe(`${PUBLIC_BASE}/inventory/${ids[n]}/${sha}-1280.webp`);
      expect(row(n).image_migrated_at).toBeInstanceOf(Date);
      const full = { alpha: 'png', gif5: 'gif', gif80: 'gif' }[n] ?? 'jpg';
      expect((await listObjects(fleet, `inventory/${ids[n]}/`)).map((o) => o.key)).toEqual(keysOf(ids[n]!, sha, full));
    }
    expect(row('exif').r2_url).toBe(srv.url('/exif'));
    expect(row('exif').image_source_url).toBe(srv.url('/exif'));

    const key = (n: string, v: string) => `inventory/${ids[n]}/${sha256(files[n]!)}-${v}`;
    const head = await headObject(fleet, key('photo', '640.webp'));
    expect(head.ContentType).toBe('image/webp');
    expect(head.CacheControl).toBe('public, max-age=31536000, immutable');
    expect((await headObject(fleet, key('photo', 'full.jpg'))).ContentType).toBe('image/jpeg');
    expect((await headObject(fleet, key('gif5', 'full.gif'))).ContentType).toBe('image/gif');

    // EXIF orientation 6: stored 400×200 red|blue, upright 200×400 red over blue; no EXIF left.
    const exif = await getObject(fleet, key('exif', '1280.webp'));
    const em = await sharp(exif).metadata();
    expect([em.format, em.width, em.height, em.orientation, em.exif]).toEqual(['webp', 200, 400, undefined, undefined]);
    expect((await pixel(exif, 100, 50)).slice(0, 3).map((c) => Math.round(c / 50))).toEqual([5, 0, 0]);
    expect((await pixel(exif, 100, 350)).slice(0, 3).map((c) => Math.round(c / 50))).toEqual([0, 0, 5]);
    const exifFull = await sharp(await getObject(fleet, key('exif', 'full.jpg'))).metadata();
    expect([exifFull.width, exifFull.height, exifFull.orientation, exifFull.exif]).toEqual([200, 400, undefined, undefined]);

    for (const v of ['640.webp', 'full.png']) {
      const img = await getObject(fleet, key('alpha', v));
      expect((await sharp(img).metadata()).hasAlpha).toBe(true);
      expect((await pixel(img, 5, 5))[3]).toBe(0);
      expect((await pixel(img, 150, 150))[3]).toBe(255);
    }

    expect((await sharp(files.cmyk!).metadata()).space).toBe('cmyk');
    for (const v of ['640.webp', 'full.jpg']) {
      const m = await sharp(await getObject(fleet, key('cmyk', v))).metadata();
      expect([m.space, m.channels, m.icc]).toEqual(['srgb', 3, undefined]);
    }

    for (const v of ['320.webp', 'full.gif']) expect((await sharp(await getObject(fleet, key('gif5', v))).metadata()).pages).toBe(5);
    expect((await sharp(await getObject(fleet, key('gif80', '1280.webp'))).metadata()).pages).toBe(60);

    for (const [v, w] of [['320.webp', 200], ['640.webp', 200], ['1280.webp', 200], ['full.jpg', 200]] as const) {
      expect((await sharp(await getObject(fleet, key('small', v))).metadata()).width).toBe(w);
    }
    for (const [v, w] of [['320.webp', 320], ['640.webp', 640], ['1280.webp', 1280], ['full.jpg', 1600]] as const) {
      expect((await sharp(await getObject(fleet, key('photo', v))).metadata()).width).toBe(w);
    }
  });

  it('uploads nothing on a re-run, and a forced re-run only reuses what is stored', async () => {
    const before = await listObjects(fleet);
    const hits = srv.hits('/photo');
    const again = await migrate({});
    expect(again).toMatchObject({ migrated: 0, skipped: 0, failed: [], uploaded: 0, bytesIn: 0 });
    expect(srv.hits('/photo')).toBe(hits);

    const forced = await migrate({ table: 'inventory', ids: Object.values(ids), force: true });
    expect(forced).toMatchObject({ migrated: 7, failed: [], uploaded: 0, reused: 28 });
    expect(await listObjects(fleet)).toEqual(before);

    // A variant lost from the bucket comes back with a forced run; the rest stay as they were.
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    const lost = `inventory/${ids.photo}/${sha256(files.photo!)}-320.webp`;
    await fleet.services.s3.send(new DeleteObjectCommand({ Bucket: fleet.config.imageBucket, Key: lost }));
    const repaired = await migrate({ table: 'inventory', ids: [ids.photo!], force: true });
    expect(repaired).toMatchObject({ migrated: 1, uploaded: 1, reused: 3 });
    expect((await listObjects(fleet)).map((o) => o.key)).toEqual(before.map((o) => o.key));
  });

  it('a first run uploads without asking the bucket first; a forced re-run reuses what is stored (a restarted one: crash.test.ts)', async () => {
    srv.route('/first-run', { body: files.small! });
    const [id] = await insertInventory(fleet, [{ image_url: srv.url('/first-run') }]);
    const keys = keysOf(id!, sha256(files.small!), 'jpg');
    // A job that died after uploading and was given up left objects under the very keys.
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    for (const Key of keys) await fleet.services.s3.send(new PutObjectCommand({ Bucket: fleet.config.imageBucket, Key, Body: 'left by a dead job' }));
    const first = await migrate({ table: 'inventory', ids: [id!] });
    expect(first).toMatchObject({ migrated: 1, uploaded: 4, reused: 0 });
    // Overwritten with the real renderings, under the same content-addressed keys.
    expect((await sharp(await getObject(fleet, keys[0]!)).metadata()).width).toBe(200);
    expect((await listObjects(fleet)).filter((o) => o.key.startsWith(`inventory/${id}/`)).map((o) => o.key)).toEqual(keys);
    const forced = await migrate({ table: 'inventory', ids: [id!], force: true });
    expect(forced).toMatchObject({ migrated: 1, uploaded: 0, reused: 4 });
  });

  it('dry run downloads and checks but writes nothing', async () => {
    srv.route('/dry-ok', { body: files.photo! });
    srv.route('/dry-bad', { body: corpus.textFile });
    const [ok, bad] = await insertInventory(fleet, [{ image_url: srv.url('/dry-ok') }, { image_url: srv.url('/dry-bad') }]);
    const objects = await listObjects(fleet);
    const snapshot = async () => (await fleet.db.query(`SELECT * FROM inventory WHERE id = ANY($1::bigint[]) ORDER BY id`, [[ok, bad]])).rows;
    const rowsBefore = await snapshot();
    const res = await migrate({ table: 'inventory', ids: [ok!, bad!], dryRun: true });
    expect(res).toMatchObject({ migrated: 1, uploaded: 0, dryRun: true, failed: [{ table: 'inventory', id: bad, reason: 'not an image: the body is text' }] });
    expect(res.bytesOut).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(rowsBefore);
    expect(await listObjects(fleet)).toEqual(objects);
    expect((await fleet.db.query(`SELECT count(*)::int AS n FROM image_migration_failures`)).rows[0].n).toBe(0);
  });

  it('applies the 5 MB cap to designs and handles uuid ids', async () => {
    const big = corpus.oversized(6 * 1024 * 1024);
    srv.route('/design-big', { body: big, chunked: true });
    srv.route('/design-ok', { body: files.alpha! });
    const { rows } = await fleet.db.query<{ id: string }>(
      `INSERT INTO designs (name, image_url) VALUES ('big', $1), ('ok', $2) RETURNING id::text`, [srv.url('/design-big'), srv.url('/design-ok')]);
    const res = await migrate({ table: 'designs' });
    expect(res.migrated).toBe(1);
    expect(res.failed).toEqual([{ table: 'designs', id: rows[0]!.id, reason: 'image is over the 5 MB limit' }]);
    const { rows: after } = await fleet.db.query(`SELECT image_url FROM designs WHERE id = $1`, [rows[1]!.id]);
    expect(after[0].image_url).toBe(`${PUBLIC_BASE}/designs/${rows[1]!.id}/${sha256(files.alpha!)}-1280.webp`);
  });

  it('rejects bad payloads at the edge, naming the field', async () => {
    await expect(fleet.services.producer.enqueue('image-migration', { ids: ['1'] })).rejects.toThrow(/table: is required when ids are given/);
    await expect(fleet.services.producer.enqueue('image-migration', { table: 'inventory', ids: ['1', 'x; DROP TABLE'] })).rejects.toThrow(/ids\.1: .* is not a inventory id/);
    await expect(fleet.services.producer.enqueue('image-migration', { table: 'profiles' })).rejects.toThrow(/table:/);
    await expect(fleet.services.producer.enqueue('image-migration', { limit: 0 })).rejects.toThrow(/limit:/);
    await expect(fleet.services.producer.enqueue('image-migration', { dryrun: true })).rejects.toThrow(/Unrecognized key.*dryrun/i);
  });
});
