import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { z } from 'zod';
import { Redis } from 'ioredis';
import { createTestDatabase, testEnv, waitFor } from '../helpers.ts';
import { fromEnv } from '../../shared/config.ts';
import { createServices, type Services } from '../../shared/services.ts';
import { createLogger } from '../../shared/logger.ts';
import { startHost } from '../../shared/host.ts';
import { defineJob, type AnyJob } from '../../shared/job.ts';
import { allJobs } from '../../jobs/index.ts';
import { startHttp } from '../../workers/http/server.ts';
import { startDefaultMetrics } from '../../shared/metrics.ts';
import { throwawayRedis, type Server } from '../reliability/servers.ts';

// CI runs a reduced size; `npm run test:load` (FLEET_LOAD_FULL=1) runs the 100,000.
const FULL = process.env.FLEET_LOAD_FULL === '1';
const TOTAL = FULL ? 100_000 : 12_000;
// The latency limits (p99 /metrics < 50 ms, event-loop lag < 100 ms) are enforced by
// the full run (`npm run test:load`, on a machine of its own). The reduced run inside
// `npm test` shares two cores with PostgreSQL, Redis and whatever else runs, so it asserts
// looser limits that still catch a blocked event loop; both print what they measured.
const LIMITS = FULL ? { metricsP99Ms: 50, lagP99Ms: 100 } : { metricsP99Ms: 500, lagP99Ms: 250 };
const QUEUES = ['load-a', 'load-b', 'load-c'];
const jobs = QUEUES.map((name) => defineJob({
  name, description: 'load test no-op', concurrency: 50,
  schema: z.strictObject({ n: z.number().int() }),
  handler: async (p) => ({ n: p.n }),
}) as AnyJob);

let redis: Server;
let services: Services;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  redis = await throwawayRedis(); // memory figures of our own, untouched by other test runs
  const db = await createTestDatabase();
  dropDb = db.drop;
  services = await createServices(fromEnv(testEnv(db.url, { REDIS_URL: redis.url })), [...allJobs, ...jobs], { log: createLogger('silent'), buckets: false });
});
afterAll(async () => {
  await services?.close().catch(() => {});
  await redis?.destroy();
  await dropDb?.();
});

async function usedMemory(): Promise<number> {
  const r = new Redis(redis.url);
  try {
    const info = await r.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)![1]);
  } finally {
    r.disconnect();
  }
}

/**
 * Adds `count` jobs spread round-robin over the queues, 150 per addBulk call, yielding to
 * the event loop between calls: the producer shares this process only because it is a
 * test; in the fleet, producers (CLI, API callers) are elsewhere.
 */
async function burst(count: number, offset: number): Promise<void> {
  const chunk = 150;
  for (let i = 0; i < count; i += chunk) {
    const n = Math.min(chunk, count - i);
    await Promise.all(QUEUES.map((q, k) => services.producer.queue(q).addBulk(
      Array.from({ length: Math.ceil((n - k) / QUEUES.length) }, (_, j) => ({
        name: q, data: { payload: { n: offset + i + j * QUEUES.length + k }, enqueuedBy: 'load' },
      })))));
    await new Promise((r) => setImmediate(r));
  }
}

// Retention removes completed jobs from Redis, so completions are counted as they happen.
let completedCount = 0;
const completed = async () => completedCount;

describe(`load: ${TOTAL} jobs in bursts across ${QUEUES.length} queues`, () => {
  it('all complete; Redis memory returns to its steady state; /metrics stays fast; the event loop stays responsive', async () => {
    startDefaultMetrics();
    const http = await startHttp(services, [], 0);
    const port = (http.server.address() as { port: number }).port;
    const host = await startHost(services, jobs);
    for (const w of host.workers) w.on('completed', () => { completedCount++; });
    const lag = monitorEventLoopDelay({ resolution: 10 });
    const scrapeMs: number[] = [];
    let scraping = true;
    try {
      // Warm-up to the steady state: each queue keeps its last 1,000 completed jobs and an
      // event stream capped at ~10,000 entries (a few per job); then measure around the load.
      const warmup = QUEUES.length * 4_000;
      await burst(warmup, 0);
      const per = warmup / QUEUES.length;
      await waitFor(async () => (await Promise.all(QUEUES.map((q) => services.producer.queue(q).getJobCounts('wait', 'active', 'delayed'))))
        .every((c) => c.wait === 0 && c.active === 0 && c.delayed === 0), { timeoutMs: 60_000, what: 'warm-up drained' });
      expect(per).toBeGreaterThan(1_000);
      const before = await usedMemory();

      const scraper = (async () => {
        while (scraping) {
          const t = performance.now();
          const res = await fetch(`http://127.0.0.1:${port}/metrics`);
          await res.text();
          scrapeMs.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      lag.enable();
      const t0 = performance.now();
      await waitFor(async () => (await completed()) >= warmup, { timeoutMs: 120_000, what: 'warm-up completed' });
      const start = await completed();
      for (let sent = 0; sent < TOTAL; sent += TOTAL / 4) await burst(TOTAL / 4, 1e6 + sent); // four bursts
      await waitFor(async () => (await completed()) - start >= TOTAL, { timeoutMs: 600_000, intervalMs: 500, what: 'every job completed' });
      const seconds = (performance.now() - t0) / 1000;
      lag.disable();
      scraping = false;
      await scraper;
      await waitFor(async () => (await Promise.all(QUEUES.map((q) => services.producer.queue(q).getJobCounts('wait', 'active', 'failed'))))
        .every((c) => c.wait === 0 && c.active === 0 && c.failed === 0), { what: 'queues idle, nothing failed' });
      const after = await usedMemory();

      scrapeMs.sort((a, b) => a - b);
      const p99 = scrapeMs[Math.floor(scrapeMs.length * 0.99)]!;
      const lagMaxMs = lag.max / 1e6;
      const lagP99Ms = lag.percentile(99) / 1e6;
      console.log(JSON.stringify({
        jobs: TOTAL, seconds: +seconds.toFixed(1), jobsPerSecond: Math.round(TOTAL / seconds),
        redisMemoryBeforeMb: +(before / 2 ** 20).toFixed(2), redisMemoryAfterMb: +(after / 2 ** 20).toFixed(2),
        metricsScrapes: scrapeMs.length, metricsP99Ms: +p99.toFixed(1), eventLoopLagP99Ms: +lagP99Ms.toFixed(1), eventLoopLagMaxMs: +lagMaxMs.toFixed(1),
      }));
      expect(Math.abs(after - before) / before).toBeLessThan(0.1);
      expect(p99).toBeLessThan(LIMITS.metricsP99Ms);
      expect(lagP99Ms).toBeLessThan(LIMITS.lagP99Ms);
    } finally {
      scraping = false;
      lag.disable();
      await host.close();
      await http.close();
    }
  }, 900_000);
});
