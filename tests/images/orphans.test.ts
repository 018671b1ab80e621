import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { useTestFleet, waitFor } from '../helpers.ts';
import type { AnyJob } from '../../shared/job.ts';
import { registry } from '../../shared/metrics.ts';
import { acquireAdvisoryLock } from '../../shared/advisory-lock.ts';
import { IMAGE_BUCKET_LOCK } from '../../shared/image-keys.ts';
import imageMigration from '../../jobs/image-migration/index.ts';
import imageOrphans from '../../jobs/image-orphans/index.ts';
import type { ImageMigrationResult } from '../../jobs/image-migration/handler.ts';
import type { ImageOrphansResult } from '../../jobs/image-orphans/handler.ts';
import { startImageServer, type ImageServer } from './fixtures/server.ts';
import * as corpus from './fixtures/corpus.ts';
import { PUBLIC_BASE, insertInventory, listObjects, runToResult, sha256 } from './support.ts';

const fleet = useTestFleet({ IMAGE_SOURCE_HOSTS: '127.0.0.1', IMAGE_PUBLIC_BASE_URL: PUBLIC_BASE });
let srv: ImageServer;

beforeAll(async () => { srv = await startImageServer(); });
afterAll(async () => { await srv?.close(); });

const migrate = async (payload: unknown) => (await runToResult<ImageMigrationResult>(fleet, imageMigration as AnyJob, payload)).result;
const scan = async (payload: unknown) => {
  const run = await runToResult<ImageOrphansResult>(fleet, imageOrphans as AnyJob, payload);
  expect(run.failedReason).toBeUndefined();
  return run.result;
};
const put = (key: string) => fleet.services.s3.send(new PutObjectCommand({ Bucket: fleet.config.imageBucket, Key: key, Body: 'x' }));
const gaugeValue = async () => (await registry.getSingleMetric('fleet_images_orphaned')!.get()).values[0]?.value;

describe('image-orphans', () => {
  it('reports orphans past the grace period, and deletes them only when asked', async () => {
    const [a, b, c] = [await corpus.photoJpeg(700, 500, 1), await corpus.photoJpeg(700, 500, 2), await corpus.photoJpeg(700, 500, 3)];
    srv.route('/a.jpg', { body: a });
    srv.route('/b.jpg', { body: b });
    srv.route('/c.jpg', { body: c });
    const [keep, gone, changed] = await insertInventory(fleet, [{ image_url: srv.url('/a.jpg') }, { image_url: srv.url('/b.jpg') }, { image_url: srv.url('/a.jpg') }]);
    expect((await migrate({})).migrated).toBe(3);
    // Orphans: every variant of a deleted row, the old image of a row whose image changed,
    // and a stray object. Not orphans: an object outside our layout that a row's URL names.
    await fleet.db.query('DELETE FROM inventory WHERE id = $1', [gone]);
    await fleet.db.query('UPDATE inventory SET image_url = $2 WHERE id = $1', [changed, srv.url('/c.jpg')]);
    expect((await migrate({})).migrated).toBe(1);
    await put('misc/stray.txt');
    await put('uploads/user-design.png');
    await fleet.db.query(`INSERT INTO designs (name, image_url) VALUES ('mine', $1)`, [`${PUBLIC_BASE}/uploads/user-design.png`]);
    const expected = [
      ...(await listObjects(fleet, `inventory/${gone}/`)).map((o) => o.key),
      ...(await listObjects(fleet, `inventory/${changed}/${sha256(a)}-`)).map((o) => o.key),
      'misc/stray.txt',
    ].sort();
    expect(expected).toHaveLength(9);
    const all = await listObjects(fleet);
    expect(all).toHaveLength(4 * 3 + 4 + 2);

    // Everything is younger than the default 24 h grace: nothing is an orphan yet.
    const fresh = await scan({});
    expect(fresh).toMatchObject({ objects: all.length, found: 0, orphaned: 0, deleted: 0, graceHours: 24 });

    await new Promise((r) => setTimeout(r, 1_100));
    const report = await scan({ graceHours: 1 / 3600 });
    expect(report).toMatchObject({ found: 9, orphaned: 9, deleted: 0 });
    expect(report.sample.map((s) => s.key).sort()).toEqual(expected);
    expect(report.bytes).toBe(all.filter((o) => expected.includes(o.key)).reduce((n, o) => n + o.size, 0));
    expect(await listObjects(fleet)).toEqual(all);
    expect(await gaugeValue()).toBe(9);

    const removed = await scan({ graceHours: 1 / 3600, delete: true });
    expect(removed).toMatchObject({ found: 9, deleted: 9, orphaned: 0, deleteErrors: [] });
    expect(removed.deletedBytes).toBe(report.bytes);
    const left = (await listObjects(fleet)).map((o) => o.key);
    expect(left).toEqual(all.map((o) => o.key).filter((k) => !expected.includes(k)));
    expect(left.filter((k) => k.startsWith(`inventory/${keep}/`))).toHaveLength(4);
    expect(left).toContain('uploads/user-design.png');
    expect(await gaugeValue()).toBe(0);

    const { rows } = await fleet.db.query(`SELECT grace_hours::float AS grace, objects, found, orphaned, deleted FROM image_orphan_scans ORDER BY id`);
    expect(rows.map((r) => [r.found, r.orphaned, r.deleted])).toEqual([[0, 0, 0], [9, 9, 0], [9, 0, 9]]);
    expect(rows[0].grace).toBe(24);
  });

  it('waits for a running migration before deleting', async () => {
    await put('misc/late-stray.txt');
    await new Promise((r) => setTimeout(r, 1_100));
    const lock = await acquireAdvisoryLock(fleet.db, IMAGE_BUCKET_LOCK, { shared: true });
    const host = await fleet.startWorkers([imageOrphans as AnyJob]);
    try {
      const id = await fleet.services.producer.enqueue('image-orphans', { graceHours: 1 / 3600, delete: true });
      const job = () => fleet.services.producer.queue('image-orphans').getJob(id);
      await waitFor(async () => (await (await job())?.getState()) === 'active', { what: 'orphan job to start' });
      await new Promise((r) => setTimeout(r, 700));
      expect(await (await job())!.getState()).toBe('active');
      expect((await listObjects(fleet, 'misc/')).map((o) => o.key)).toEqual(['misc/late-stray.txt']);
      await lock!.release();
      await waitFor(async () => (await (await job())?.getState()) === 'completed', { what: 'orphan job to finish' });
      expect((await job())!.returnvalue).toMatchObject({ deleted: 1, orphaned: 0 });
      expect(await listObjects(fleet, 'misc/')).toEqual([]);
    } finally {
      await lock?.release();
      await host.close();
    }
  });
});
