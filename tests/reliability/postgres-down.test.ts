import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { testEnv, waitFor, deletePrefix } from '../helpers.ts';
import { fromEnv, type Config } from '../../shared/config.ts';
import { ensureDatabase } from '../../shared/db.ts';
import { migrate } from '../../shared/migrate.ts';
import { createServices, type Services } from '../../shared/services.ts';
import { createLogger } from '../../shared/logger.ts';
import { startHost } from '../../shared/host.ts';
import type { AnyJob } from '../../shared/job.ts';
import { allJobs } from '../../jobs/index.ts';
import { startHttp } from '../../workers/http/server.ts';
import { slowJob, EFFECTS_TABLE } from './fixtures/slow-job.ts';
import { throwawayPostgres, type Server } from './servers.ts';

const OUTAGE_MS = Number(process.env.FLEET_PG_OUTAGE_MS ?? 30_000);
let pg: Server;
let services: Services;
let config: Config;

beforeAll(async () => {
  pg = await throwawayPostgres();
  config = fromEnv(testEnv(pg.url));
  await ensureDatabase(config.databaseUrl);
  await migrate(config.databaseUrl);
  services = await createServices(config, [...allJobs, slowJob as AnyJob], { log: createLogger('silent'), buckets: false });
  await services.db.query(EFFECTS_TABLE);
}, 120_000);
afterAll(async () => {
  await services?.close().catch(() => {});
  await deletePrefix(config.queuePrefix);
  await pg?.destroy();
});

describe(`PostgreSQL down for ${OUTAGE_MS / 1000} s`, () => {
  it('running jobs fail and retry with backoff, healthz reports it, everything completes after recovery', async () => {
    const queue = services.producer.queue('test-slow');
    const http = await startHttp(services, [], 0);
    const port = (http.server.address() as { port: number }).port;
    const host = await startHost(services, [slowJob as AnyJob]);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await services.producer.enqueue('test-slow', { ms: 1_000 }));
      await waitFor(async () => ((await queue.getJobCounts('active')).active ?? 0) > 0, { what: 'jobs running' });
      await pg.stop();

      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 503, { what: 'healthz to report the outage' });
      const body = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
      expect(body).toMatchObject({ status: 'degraded', redis: 'up', postgres: expect.stringMatching(/^down/) });
      // Jobs that reached the database during the outage failed an attempt and wait to retry; none completed.
      await waitFor(async () => ((await queue.getJobCounts('delayed')).delayed ?? 0) > 0, { what: 'a failed attempt scheduled for retry' });
      const during = await queue.getJobCounts('completed', 'failed');
      expect(during).toEqual({ completed: 0, failed: 0 });

      const downAt = performance.now();
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await pg.start();
      const upAt = performance.now();
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, { what: 'healthz ok again' });
      await waitFor(async () => (await queue.getJobCounts('completed')).completed === 20, { timeoutMs: 90_000, intervalMs: 250, what: 'all 20 jobs completed after recovery' });
      expect(await queue.getJobCounts('active', 'failed', 'waiting', 'delayed')).toEqual({ active: 0, failed: 0, waiting: 0, delayed: 0 });
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      console.log(JSON.stringify({
        fault: 'PostgreSQL down', outageMs: Math.round(upAt - downAt), allDoneAfterRecoveryMs: Math.round(performance.now() - upAt),
        jobs: ids.length, retriedJobs: jobs.filter((j) => j!.attemptsMade > 0).length, maxAttempts: Math.max(...jobs.map((j) => j!.attemptsMade + 1)),
      }));
      expect(jobs.some((j) => j!.attemptsMade > 0)).toBe(true); // retried, not silently done
    } finally {
      await host.close();
      await http.close();
    }
    const { rows } = await services.db.query('SELECT count(*)::int AS n FROM test_effects');
    expect(rows[0].n).toBe(20);
    // The audit trail caught up too (its writes failed during the outage and were logged, not fatal).
    const audit = await services.db.query(`SELECT count(DISTINCT job_id)::int AS n FROM job_runs WHERE queue = 'test-slow' AND state = 'completed'`);
    expect(audit.rows[0].n).toBe(20);
    // ...including the attempts that failed while the database was away (kept and written later).
    const retried = await services.db.query(`SELECT count(*)::int AS n FROM job_runs WHERE queue = 'test-slow' AND state = 'retrying'`);
    expect(retried.rows[0].n).toBeGreaterThan(0);
  }, 180_000);
});
