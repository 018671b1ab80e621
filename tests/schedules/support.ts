import type { TestFleet, WorkerProcess } from '../helpers.ts';
import { producerConnection } from '../../shared/redis.ts';
import { Producer } from '../../shared/queues.ts';
import { allJobs } from '../../jobs/index.ts';

// Helpers for the tests that run real fleet processes on a fast schedule.

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Scheduled runs of mv-refresh as recorded by the workers: one row per job, tick = the id's millis. */
export async function scheduledRuns(fleet: TestFleet) {
  const { rows } = await fleet.db.query<{ job_id: string; attempts: number; states: string[]; started: Date }>(
    `SELECT job_id, count(*)::int AS attempts, array_agg(state::text) AS states, min(started_at) AS started
     FROM job_runs WHERE queue = 'mv-refresh' AND enqueued_by = 'schedule:mv-refresh' GROUP BY job_id`);
  return rows.map((r) => ({ ...r, tick: Number(r.job_id.split(':').pop()) })).sort((a, b) => a.tick - b.tick);
}

/** Ticks between two consecutive runs that no late run explains (should be none). */
export function skippedWithoutCause(runs: { tick: number; started: Date }[], intervalMs: number): number[] {
  const lost: number[] = [];
  for (let i = 1; i < runs.length; i++) {
    for (let t = runs[i - 1]!.tick + intervalMs; t < runs[i]!.tick; t += intervalMs) {
      if (runs[i - 1]!.started.getTime() < t) lost.push(t);
    }
  }
  return lost;
}

export async function stopAll(procs: WorkerProcess[]) {
  for (const p of procs) p.kill('SIGTERM');
  return Promise.all(procs.map((p) => p.exited));
}

export async function withProducer<T>(fleet: TestFleet, prefix: string, fn: (p: Producer) => Promise<T>): Promise<T> {
  const redis = producerConnection(fleet.env.REDIS_URL!);
  const producer = new Producer(new Map(allJobs.map((j) => [j.name, j])), redis, prefix);
  try {
    return await fn(producer);
  } finally {
    await producer.close();
    redis.disconnect();
  }
}

