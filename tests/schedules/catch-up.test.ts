import { describe, it, expect } from 'vitest';
import { useTestFleet, spawnWorker, randomId, deletePrefix, waitFor } from '../helpers.ts';
import { scheduledRuns as runsOf, skippedWithoutCause, withProducer as producerOf, sleep } from './support.ts';

// Real fleet processes (workers/mv-refresh.ts: the mv-refresh worker plus the scheduler),
// with mv-refresh's schedule overridden by SCHEDULE_MV_REFRESH to fire every 3 s.

const fleet = useTestFleet();
const scheduledRuns = () => runsOf(fleet);
const withProducer = <T>(prefix: string, fn: Parameters<typeof producerOf<T>>[2]) => producerOf<T>(fleet, prefix, fn);

describe('schedules across processes', () => {
  it('after the fleet was down across several ticks, runs once on start, then keeps its schedule; removed schedules vanish', async () => {
    await fleet.db.query('TRUNCATE job_runs');
    const prefix = `t${randomId()}`;
    const env = { ...fleet.env, QUEUE_PREFIX: prefix, SCHEDULE_MV_REFRESH: '*/3 * * * * *' };
    try {
      const a = await spawnWorker('mv-refresh', env);
      try {
        await waitFor(async () => (await scheduledRuns()).length >= 2, { timeoutMs: 15_000, what: 'two scheduled runs' });
      } finally {
        a.kill('SIGTERM');
      }
      expect(await a.exited).toBe(0);
      const before = await scheduledRuns();
      const lastBefore = before.at(-1)!.tick;

      await sleep(10_000); // three or four ticks fall while nothing runs
      const restart = Date.now();
      const b = await spawnWorker('mv-refresh', env);
      try {
        await waitFor(async () => (await scheduledRuns()).filter((r) => r.tick > restart).length >= 2, { timeoutMs: 15_000, what: 'two ticks after restart' });
      } finally {
        b.kill('SIGTERM');
      }
      expect(await b.exited).toBe(0);

      const runs = await scheduledRuns();
      const missed = runs.filter((r) => r.tick > lastBefore && r.tick < restart);
      // The ticks that fell while down: lastBefore+3s, +6s, +9s… only the first runs, once, on start.
      expect(Math.floor((restart - lastBefore) / 3000)).toBeGreaterThanOrEqual(3);
      expect(missed.map((r) => r.tick)).toEqual([lastBefore + 3000]);
      expect(missed[0]!.started.getTime()).toBeGreaterThanOrEqual(restart);
      // After the catch-up, regular ticks again, each once.
      const after = runs.filter((r) => r.tick > restart);
      expect(skippedWithoutCause(after, 3_000)).toEqual([]);
      expect(b.output()).toMatch(/"unchanged":\[[^\]]*"mv-refresh"/);

      // Next start without the schedule: it disappears from Redis, and the queue runs freely again.
      const c = await spawnWorker('mv-refresh', { ...env, SCHEDULE_MV_REFRESH: 'off' });
      c.kill('SIGTERM');
      expect(await c.exited).toBe(0);
      await withProducer(prefix, async (producer) => {
        const queue = producer.queue('mv-refresh');
        expect(await queue.getJobSchedulers()).toEqual([]);
        expect(await queue.getGlobalConcurrency()).toBeNull();
      });
    } finally {
      await deletePrefix(prefix);
    }
  }, 150_000);
});
