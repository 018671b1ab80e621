// A worker process killed (SIGKILL) in the middle of an import, after batches were already
// merged: the job is picked up again as stalled and the end state is that of one clean run.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { useTestFleet, spawnWorker, waitFor, type WorkerProcess } from '../helpers.ts';
import inventoryImport from '../../jobs/inventory-import/index.ts';
import { writeExport, type GenerateStats } from '../../bench/generators/aliexpress.ts';
import { fixture, removeFixtures, importOk } from './support.ts';

const fleet = useTestFleet();
let file: string;
let stats: GenerateStats;

beforeAll(async () => {
  file = await fixture('kill.json', '');
  stats = await writeExport(file, { items: 100_000, seed: 7 });
});
afterAll(removeFixtures);

/** The import's visible outcome, without timestamps and generated ids. */
async function state() {
  const inventory = await fleet.db.query(`
    SELECT external_id, variant_key, title, category, unit_price::text, quantity, status::text, attributes, store_name, image_url
    FROM inventory ORDER BY external_id, variant_key`);
  const movements = await fleet.db.query(`SELECT count(*)::int AS n FROM stock_movements`);
  return { inventory: inventory.rows, movements: movements.rows[0].n };
}

describe('inventory-import, crash', () => {
  it('ends a killed-and-retried import in the same state as one clean run', async () => {
    const env = { ...fleet.env, WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };
    const workers: WorkerProcess[] = [];
    try {
      const first = await spawnWorker('inventory-import', env);
      workers.push(first);
      const id = await fleet.services.producer.enqueue('inventory-import', { source: { path: file } }, { enqueuedBy: 'test' });
      const queue = fleet.services.producer.queue('inventory-import');
      // Past several merged batches (about 16k rows each for this file), well before the end.
      await waitFor(async () => {
        const job = await queue.getJob(id);
        const progress = job?.progress as { done?: number } | undefined;
        if (job && (await job.getState()) === 'completed') throw new Error('the import finished before it could be killed; use a bigger file');
        return (progress?.done ?? 0) >= 55_000;
      }, { timeoutMs: 60_000, intervalMs: 20, what: 'the import to be half way' });
      first.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      // The server ends the dead worker's transaction (its advisory lock goes with it), and
      // nothing of it remains, though batches had been merged.
      await waitFor(async () => (await fleet.db.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rowCount === 0,
      { timeoutMs: 30_000, what: 'the killed import\'s transaction to end' });
      expect((await state()).inventory).toEqual([]);

      const second = await spawnWorker('inventory-import', env);
      workers.push(second);
      const job = await waitFor(async () => {
        const j = await queue.getJob(id);
        const s = j ? await j.getState() : 'missing';
        if (s === 'failed') throw new Error(`retried import failed: ${j?.failedReason}`);
        return s === 'completed' ? j : undefined;
      }, { timeoutMs: 90_000, intervalMs: 100, what: 'the stalled import to be retried and complete' });
      // Every row is new to the retry (if the machine is so slow that the retry's own lock
      // lapses, BullMQ runs it once more, and that run finds the rows unchanged).
      const result = job.returnvalue as { inserted: number; unchanged: number; updated: number; movements: number };
      expect(result.inserted + result.unchanged).toBe(stats.distinctRows);
      expect(result).toMatchObject({ updated: 0, movements: 0 });
      const recovered = await state();

      await fleet.db.query('TRUNCATE inventory RESTART IDENTITY CASCADE');
      const host = await fleet.startWorkers([inventoryImport]);
      try {
        await importOk(fleet, { source: { path: file } });
      } finally {
        await host.close();
      }
      expect(recovered).toEqual(await state());
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  }, 180_000);
});
