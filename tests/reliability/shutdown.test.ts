import { describe, it, expect, beforeAll } from 'vitest';
import { useTestFleet, spawnWorker, waitFor } from '../helpers.ts';
import { createServices, type Services } from '../../shared/services.ts';
import { createLogger } from '../../shared/logger.ts';
import { startHost } from '../../shared/host.ts';
import type { AnyJob } from '../../shared/job.ts';
import { allJobs } from '../../jobs/index.ts';
import { slowJob, EFFECTS_TABLE } from './fixtures/slow-job.ts';

const fleet = useTestFleet({ SHUTDOWN_TIMEOUT_MS: '2000' });
let services: Services;

beforeAll(async () => {
  services = await createServices(fleet.config, [...allJobs, slowJob as AnyJob], { log: createLogger('silent'), buckets: false });
  await fleet.db.query(EFFECTS_TABLE);
  return () => services.close();
});

describe('graceful shutdown under load', () => {
  it('SIGTERM with 50 active jobs: each finishes or goes back to the queue; exit 0; nothing lost or doubled', async () => {
    const queue = services.producer.queue('test-slow');
    // Half the jobs fit in the 2 s shutdown timeout, half do not.
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await services.producer.enqueue('test-slow', { ms: i % 2 ? 500 : 8_000 }));
    const worker = await spawnWorker('tests/reliability/fixtures/slow-worker.ts', fleet.env);
    await waitFor(async () => (await queue.getJobCounts('active')).active === 50, { what: '50 active jobs' });
    const t = performance.now();
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const shutdownMs = performance.now() - t;
    const counts = await queue.getJobCounts('active', 'waiting', 'completed', 'failed');
    expect(counts).toMatchObject({ active: 0, failed: 0 });
    expect(counts.completed).toBe(25);
    expect(counts.waiting).toBe(25);
    console.log(JSON.stringify({ fault: 'SIGTERM with 50 active jobs', shutdownMs: Math.round(shutdownMs), ...counts }));
    expect(shutdownMs).toBeLessThan(15_000);
    expect(worker.output()).toContain('returned to the queue');

    // A new worker finishes the rest; every job took effect exactly once.
    const host = await startHost(services, [slowJob as AnyJob]);
    try {
      await waitFor(async () => (await queue.getJobCounts('completed')).completed === 50, { timeoutMs: 30_000, what: 'all 50 completed' });
    } finally {
      await host.close();
    }
    const { rows } = await fleet.db.query('SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS d FROM test_effects');
    expect(rows[0]).toEqual({ n: 50, d: 50 });
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    // Interrupted jobs spent no attempt.
    expect(jobs.every((j) => j!.attemptsMade <= 1)).toBe(true);
  });
});
