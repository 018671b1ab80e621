import { describe, it, expect } from 'vitest';
import { useTestFleet, spawnWorker, randomId, deletePrefix, waitFor, type WorkerProcess } from '../helpers.ts';
import { producerConnection } from '../../shared/redis.ts';
import { Producer } from '../../shared/queues.ts';
import { allJobs } from '../../jobs/index.ts';

// Real fleet processes (workers/mv-refresh.ts: the mv-refresh worker plus the scheduler),
// with mv-refresh's schedule overridden to fire every second or every few seconds.

const fleet = useTestFleet();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Scheduled runs of mv-refresh as recorded by the workers: one row per job, tick = the id's millis. */
async function scheduledRuns() {
  const { rows } = await fleet.db.query<{ job_id: string; attempts: number; states: string[]; started: Date }>(
    `SELECT job_id, count(*)::int AS attempts, array_agg(state::text) AS states, min(started_at) AS started
     FROM job_runs WHERE queue = 'mv-refresh' AND enqueued_by = 'schedule:mv-refresh' GROUP BY job_id`);
  return rows.map((r) => ({ ...r, tick: Number(r.job_id.split(':').pop()) })).sort((a, b) => a.tick - b.tick);
}

async function stopAll(procs: WorkerProcess[]) {
  for (const p of procs) p.kill('SIGTERM');
  return Promise.all(procs.map((p) => p.exited));
}

async function withProducer<T>(prefix: string, fn: (p: Producer) => Promise<T>): Promise<T> {
  const redis = producerConnection(fleet.env.REDIS_URL!);
  const producer = new Producer(new Map(allJobs.map((j) => [j.name, j])), redis, prefix);
  try {
    return await fn(producer);
  } finally {
    await producer.close();
    redis.disconnect();
  }
}

describe('schedules across processes', () => {
  it('fires each tick of a per-second schedule exactly once with three scheduler processes', async () => {
    await fleet.db.query('TRUNCATE job_runs');
    const env = { ...fleet.env, SCHEDULE_MV_REFRESH: '* * * * * *' };
    const procs = await Promise.all([0, 1, 2].map(() => spawnWorker('mv-refresh', env)));
    let codes: (number | string)[] = [];
    const ready = Date.now();
    try {
      await sleep(8_000);
    } finally {
      codes = await stopAll(procs);
    }
    const stopped = Date.now();
    expect(codes).toEqual([0, 0, 0]);
    // One process created the scheduler; the others found it in place (or the lock taken).
    const creators = procs.filter((p) => /"created":\["mv-refresh"\]/.test(p.output()));
    expect(creators).toHaveLength(1);

    const runs = await scheduledRuns();
    // Every whole second between "all three ready" and "stop" (a margin of one tick each side).
    const first = Math.ceil(ready / 1000) * 1000 + 1000;
    const last = Math.floor(stopped / 1000) * 1000 - 2000;
    const window = runs.filter((r) => r.tick >= first && r.tick <= last);
    const expected = Array.from({ length: (last - first) / 1000 + 1 }, (_, i) => first + i * 1000);
    expect(window.map((r) => r.tick)).toEqual(expected);
    expect(window.every((r) => r.attempts === 1 && r.states.join() === 'completed')).toBe(true);
    // No tick ran twice anywhere (the job id is derived from the tick).
    expect(new Set(runs.map((r) => r.tick)).size).toBe(runs.length);
  }, 60_000);

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
      expect(after.every((r, i) => i === 0 || r.tick - after[i - 1]!.tick === 3000)).toBe(true);
      expect(b.output()).toMatch(/"unchanged":\["mv-refresh"\]/);

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
  }, 60_000);
});
