import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { useTestFleet, spawnWorker, waitFor } from '../helpers.ts';
import type { AnyJob } from '../../shared/job.ts';
import imageMigration from '../../jobs/image-migration/index.ts';
import type { ImageMigrationResult } from '../../jobs/image-migration/handler.ts';
import { startImageServer, type ImageServer } from './fixtures/server.ts';
import * as corpus from './fixtures/corpus.ts';
import { PUBLIC_BASE, insertInventory, listObjects, danglingRows } from './support.ts';

// Short locks so the killed worker's job is found stalled and retried within seconds.
const fleet = useTestFleet({
  IMAGE_SOURCE_HOSTS: '127.0.0.1', IMAGE_PUBLIC_BASE_URL: PUBLIC_BASE, WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000',
});
let srv: ImageServer;

beforeAll(async () => { srv = await startImageServer(); });
afterAll(async () => { await srv?.close(); });

const migratedCount = async () => (await fleet.db.query(`SELECT count(*)::int AS n FROM inventory WHERE image_migrated_at IS NOT NULL`)).rows[0].n as number;

describe('image-migration crash', () => {
  it('a worker killed mid-batch leaves no row pointing at a missing object, and the retry finishes without re-uploading', async () => {
    const photos = [await corpus.photoJpeg(900, 600, 1), await corpus.photoJpeg(900, 600, 2), await corpus.photoJpeg(900, 600, 3)];
    photos.forEach((body, i) => srv.route(`/p${i}.jpg`, { body, delayMs: 60 }));
    const n = 40;
    await insertInventory(fleet, Array.from({ length: n }, (_, i) => ({ image_url: srv.url(`/p${i % 3}.jpg`) })));

    const worker = await spawnWorker('image-migration', fleet.env);
    let jobId: string;
    let atCrash: { rows: number; unreferenced: number };
    try {
      jobId = await fleet.services.producer.enqueue('image-migration', { table: 'inventory' }, { enqueuedBy: 'test' });
      // Kill once some rows are updated and other images are uploaded but not yet pointed at.
      atCrash = await waitFor(async () => {
        const rows = await migratedCount();
        const { rows: migrated } = await fleet.db.query<{ id: string }>(`SELECT id::text FROM inventory WHERE image_migrated_at IS NOT NULL`);
        const done = new Set(migrated.map((r) => r.id));
        const unreferenced = (await listObjects(fleet)).filter((o) => !done.has(o.key.split('/')[1]!)).length;
        return rows >= 3 && unreferenced >= 4 && rows < n ? { rows, unreferenced } : undefined;
      }, { timeoutMs: 30_000, intervalMs: 20, what: 'a batch half done' });
      worker.kill('SIGKILL');
      await worker.exited;
    } finally {
      worker.kill('SIGKILL');
    }
    expect(atCrash.rows).toBeLessThan(n);
    expect(await danglingRows(fleet)).toEqual([]);
    const rowsAfterCrash = await migratedCount();
    const objectsAfterCrash = (await listObjects(fleet)).length;
    expect(objectsAfterCrash).toBeGreaterThan(rowsAfterCrash * 4);

    // The stalled job is picked up again by a fresh worker and finishes the batch.
    const host = await fleet.startWorkers([imageMigration as AnyJob]);
    try {
      const queue = fleet.services.producer.queue('image-migration');
      await waitFor(async () => {
        const j = await queue.getJob(jobId);
        return j && (await j.getState()) === 'completed';
      }, { timeoutMs: 45_000, what: 'the retried job to complete' });
      const job = (await queue.getJob(jobId))!; // read again: a copy fetched before completion has no result
      const res = job.returnvalue as ImageMigrationResult;
      expect(res.failed).toEqual([]);
      expect(res.migrated).toBe(n - rowsAfterCrash);
      // What was uploaded before the crash is reused, not uploaded again.
      expect(res.reused).toBeGreaterThanOrEqual(objectsAfterCrash - rowsAfterCrash * 4);
      expect(res.uploaded + res.reused).toBe(4 * res.migrated);
    } finally {
      await host.close();
    }
    expect(await migratedCount()).toBe(n);
    expect(await danglingRows(fleet)).toEqual([]);
    expect(await listObjects(fleet)).toHaveLength(4 * n);
  });
});
