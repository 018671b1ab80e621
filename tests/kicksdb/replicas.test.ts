import { describe, it, expect, afterAll, beforeEach } from 'vitest';
import { useTestFleet, waitFor, spawnWorker, type WorkerProcess } from '../helpers.ts';
import { startStandin } from '../fixtures/kicksdb-standin.ts';
import kicksdbSync from '../../jobs/kicksdb-sync/index.ts';
import { kicksEnv, resetCatalogue, fingerprint, maxInWindow, finished, runSync } from './support.ts';

const standin = await startStandin({ products: 300, goatProducts: 30 });
const fleet = useTestFleet(kicksEnv(standin));
afterAll(() => standin.close());

// Real worker processes; a crashed one's job is picked up again within ~3 s.
const workerEnv = (overrides: Record<string, string>) => ({ ...fleet.env, WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', ...overrides });

beforeEach(async () => {
  standin.reset();
  await resetCatalogue(fleet);
});

describe('kicksdb-sync across processes', () => {
  it('a worker killed mid-sync: the retried job resumes after its last committed page and ends with the rows of one clean run', async () => {
    // 600/min: one request per 100 ms, so 31 pages take ~3 s and the kill lands mid-run.
    const env = workerEnv({ KICKSDB_REQUESTS_PER_MINUTE: '600' });
    const first = await spawnWorker('kicksdb-sync', env);
    let second: WorkerProcess | undefined;
    try {
      const id = await fleet.services.producer.enqueue('kicksdb-sync', { source: 'stockx', mode: 'full' }, { enqueuedBy: 'test' });
      await waitFor(async () => (await fleet.db.query(`SELECT resume_page FROM kicksdb_sync_state WHERE source = 'stockx' AND resume_page >= 8`)).rowCount,
        { timeoutMs: 30_000, what: 'page 8 to be committed' });
      first.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      const { rows: [at] } = await fleet.db.query(`SELECT resume_page FROM kicksdb_sync_state WHERE source = 'stockx'`);
      expect(at.resume_page).toBeLessThan(31);

      second = await spawnWorker('kicksdb-sync', env);
      const done = await finished(fleet, id);
      expect(done.state, done.failedReason).toBe('completed');
      expect(done.result.resumedFromPage).toBe(at.resume_page + 1);
      expect(done.result).toMatchObject({ pages: 31, fetched: 300, inserted: 300, updated: 0, variants: 4500, complete: true });
      expect(second.output()).toContain('resuming the sync after its last committed page');
      // Committed pages were not fetched again; only the page in flight at the kill may repeat.
      const pages = standin.requests.filter((r) => r.endpoint === 'search').map((r) => r.page!);
      for (let p = 1; p <= 31; p++) {
        const n = pages.filter((x) => x === p).length;
        expect(n, `requests for page ${p}`).toBeGreaterThanOrEqual(1);
        expect(n, `requests for page ${p}`).toBeLessThanOrEqual(p === at.resume_page + 1 ? 2 : 1);
      }
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      await Promise.all([first.exited, second?.exited]);
    }
    const resumed = await fingerprint(fleet);
    expect(resumed).toMatchObject({ products: 300, variants: 4500 });

    // The same catalogue synced by one clean run, from empty tables.
    await resetCatalogue(fleet);
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const clean = await runSync(fleet, { source: 'stockx', mode: 'full' });
      expect(clean.state, clean.failedReason).toBe('completed');
      expect(clean.result.resumedFromPage).toBeNull();
    } finally {
      await host.close();
    }
    expect(await fingerprint(fleet)).toEqual(resumed);
  });

  it('two replicas syncing at once stay within the one shared rate limit', async () => {
    const perMinute = 120;
    // Without its schedules the queue is not held to one job at a time fleet-wide, so the
    // two replicas really sync at once.
    const env = workerEnv({ KICKSDB_REQUESTS_PER_MINUTE: String(perMinute), SCHEDULE_KICKSDB_SYNC_STOCKX: 'off', SCHEDULE_KICKSDB_SYNC_GOAT: 'off' });
    const [a, b] = await Promise.all([spawnWorker('kicksdb-sync', env), spawnWorker('kicksdb-sync', env)]);
    try {
      standin.requests.length = 0;
      // StockX: 4 search pages; GOAT: 1 search page and 10 detail requests. Each worker runs one
      // job at a time (concurrency 1), so the two jobs land on the two processes.
      const ids = await Promise.all([
        fleet.services.producer.enqueue('kicksdb-sync', { source: 'stockx', mode: 'full', maxPages: 4 }),
        fleet.services.producer.enqueue('kicksdb-sync', { source: 'goat', mode: 'full', maxPages: 1 }),
      ]);
      const [sx, gt] = await Promise.all(ids.map((id) => finished(fleet, id)));
      expect(sx!.state, sx!.failedReason).toBe('completed');
      expect(gt!.state, gt!.failedReason).toBe('completed');
      expect(sx!.result).toMatchObject({ pages: 4, requests: 4, inserted: 40 });
      expect(gt!.result).toMatchObject({ pages: 1, requests: 11, inserted: 10 });

      expect([a!, b!].map((w) => w.output().split('kicksdb sync finished').length - 1)).toEqual([1, 1]);
      // They really ran at the same time, one on each process.
      expect(gt!.processedOn).toBeLessThan(sx!.finishedOn);
      expect(sx!.processedOn).toBeLessThan(gt!.finishedOn);
      expect(standin.requests).toHaveLength(15);
      // Together, never faster than one request per 500 ms, give or take scheduling jitter.
      // Together, never faster than one request per 500 ms: at most 4 (+1 for delivery
      // delays) in any 2 s, 10 (+1) in any 5 s. Each replica alone at 120/min would double that.
      expect(maxInWindow(standin.requests, 2_000)).toBeLessThanOrEqual(5);
      expect(maxInWindow(standin.requests, 5_000)).toBeLessThanOrEqual(11);
      const at = standin.requests.map((r) => r.at).sort((x, y) => x - y);
      expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual((at.length - 2) * 500);
    } finally {
      a!.kill('SIGTERM');
      b!.kill('SIGTERM');
      await Promise.all([a!.exited, b!.exited]);
    }
  });
});
