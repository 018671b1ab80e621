import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { createTestDatabase, testEnv, waitFor } from '../helpers.ts';
import { fromEnv } from '../../shared/config.ts';
import { createServices, type Services } from '../../shared/services.ts';
import { createLogger } from '../../shared/logger.ts';
import { startHost } from '../../shared/host.ts';
import type { AnyJob } from '../../shared/job.ts';
import { allJobs } from '../../jobs/index.ts';
import { startHttp } from '../../workers/http/server.ts';
import { slowJob, EFFECTS_TABLE } from './fixtures/slow-job.ts';
import { throwawayRedis, type Server } from './servers.ts';

let redis: Server;
let services: Services;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  redis = await throwawayRedis();
  const db = await createTestDatabase();
  dropDb = db.drop;
  const config = fromEnv(testEnv(db.url, { REDIS_URL: redis.url }));
  services = await createServices(config, [...allJobs, slowJob as AnyJob], { log: createLogger('silent'), buckets: false });
  await services.db.query(EFFECTS_TABLE);
});
afterAll(async () => {
  await services?.close().catch(() => {});
  await redis?.destroy();
  await dropDb?.();
});

describe('Redis restarted', () => {
  it('keeps queued and delayed jobs; workers reconnect by themselves; producers fail fast meanwhile', async () => {
    const queue = services.producer.queue('test-slow');
    for (let i = 0; i < 20; i++) await services.producer.enqueue('test-slow', { ms: 10 });
    for (let i = 0; i < 5; i++) await services.producer.enqueue('test-slow', { ms: 10 }, { delay: 2_000 });
    const http = await startHttp(services, [], 0);
    const port = (http.server.address() as { port: number }).port;
    const host = await startHost(services, [slowJob as AnyJob]);
    try {
      await host.workers[0]!.pause(true);
      await redis.stop();

      // Producers fail fast and clearly while Redis is down.
      const t = performance.now();
      await expect(services.producer.enqueue('test-slow', { ms: 10 })).rejects.toThrow(/writeable|Connection is closed|ECONNREFUSED|enableOfflineQueue/i);
      expect(performance.now() - t).toBeLessThan(3_000);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ postgres: 'up', redis: expect.stringMatching(/^down/) });

      const failFastMs = Math.round(performance.now() - t);
      await new Promise((r) => setTimeout(r, 1_500));
      await redis.start();
      const restartedAt = performance.now();
      // Jobs survived the restart (append-only file).
      // Jobs survived the restart (append-only file); the paused worker may have held one already.
      await waitFor(async () => {
        try {
          const c = await queue.getJobCounts('waiting', 'delayed', 'active', 'completed');
          return c.waiting! + c.delayed! + c.active! + c.completed! === 25 && c.delayed === 5;
        } catch { return false; }
      }, { what: 'jobs back after the restart' });

      host.workers[0]!.resume();
      await waitFor(async () => (await queue.getJobCounts('completed')).completed === 25, { timeoutMs: 30_000, what: 'all 25 jobs completed after reconnect' });
      // And new work flows through the same, unrestarted worker.
      await waitFor(async () => {
        try { await services.producer.enqueue('test-slow', { ms: 10 }); return true; } catch { return false; }
      }, { what: 'producer reconnected' });
      await waitFor(async () => (await queue.getJobCounts('completed')).completed === 26, { what: 'a new job completed' });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      console.log(JSON.stringify({ fault: 'Redis restarted', producerFailFastMs: failFastMs, jobsSurvived: 25, allDoneAfterRestartMs: Math.round(performance.now() - restartedAt) }));
    } finally {
      await host.close();
      await http.close();
    }
    const { rows } = await services.db.query('SELECT count(*)::int AS n FROM test_effects');
    expect(rows[0].n).toBe(26);
  });
});
