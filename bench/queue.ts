// No-op jobs through the fleet's host (validation, logging, metrics, job_runs audit) versus
// a plain BullMQ Worker on the same Redis with the same concurrency.
import { Queue, Worker } from 'bullmq';
import { z } from 'zod';
import { pino } from 'pino';
import { fromEnv } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createServices } from '../shared/services.ts';
import { startHost } from '../shared/host.ts';
import { defineJob, type AnyJob } from '../shared/job.ts';
import { workerConnection } from '../shared/redis.ts';
import { ensureDatabase } from '../shared/db.ts';
import { migrate } from '../shared/migrate.ts';
import { row, type Bench } from './lib.ts';

const CONCURRENCY = 100;

async function fill(queue: Queue, name: string, n: number, data: unknown): Promise<void> {
  for (let i = 0; i < n; i += 5_000) {
    const size = Math.min(5_000, n - i);
    await queue.addBulk(Array.from({ length: size }, () => ({ name, data, opts: { removeOnComplete: { count: 1_000 }, removeOnFail: { count: 1_000 } } })));
  }
}

function whenCompleted(worker: Worker, n: number): Promise<void> {
  let done = 0;
  return new Promise((resolve) => worker.on('completed', () => { if (++done === n) resolve(); }));
}

const bench: Bench = async ({ quick }) => {
  const n = quick ? 10_000 : 50_000;
  const base = fromEnv(process.env);
  const config = { ...base, queuePrefix: `bench${Date.now().toString(36)}`, logLevel: 'info' as const };
  await ensureDatabase(config.databaseUrl);
  await migrate(config.databaseUrl);
  // Real logging cost (JSON serialisation, async writes), without flooding the terminal.
  const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
  const noop = defineJob({ name: 'bench-noop', description: 'no-op', schema: z.object({ n: z.number().optional() }), handler: async () => ({ ok: true }), concurrency: CONCURRENCY });
  const services = await createServices(config, [noop as AnyJob], { log, buckets: false });
  const rates: { raw: number[]; fleet: number[] } = { raw: [], fleet: [] };
  try {
    for (let round = 0; round < 2; round++) {
      // Raw BullMQ.
      const rawQueue = new Queue(`bench-raw-${round}`, { connection: services.redis, prefix: config.queuePrefix });
      await fill(rawQueue, 'noop', n, { payload: {}, enqueuedBy: 'bench' });
      const conn = workerConnection(config.redisUrl);
      let t = performance.now();
      const raw = new Worker(rawQueue.name, async () => ({ ok: true }), { connection: conn, prefix: config.queuePrefix, concurrency: CONCURRENCY });
      await whenCompleted(raw, n);
      rates.raw.push(n / ((performance.now() - t) / 1000));
      await raw.close();
      conn.disconnect();
      await rawQueue.obliterate({ force: true });
      await rawQueue.close();

      // The fleet's host.
      const queue = services.producer.queue('bench-noop');
      await fill(queue, 'bench-noop', n, { payload: {}, enqueuedBy: 'bench' });
      t = performance.now();
      const host = await startHost(services, [noop as AnyJob]);
      await whenCompleted(host.workers[0]!, n);
      rates.fleet.push(n / ((performance.now() - t) / 1000));
      await host.close();
      await queue.obliterate({ force: true });
    }
    const audited = await services.db.query(`SELECT count(*)::int AS n FROM job_runs WHERE queue = 'bench-noop' AND state = 'completed'`);
    await services.db.query(`DELETE FROM job_runs WHERE queue = 'bench-noop'`);
    const best = (xs: number[]) => Math.max(...xs);
    return [row('queue (no-op jobs)',
      { label: 'fleet host', rate: best(rates.fleet), unit: 'jobs/s' },
      { label: 'plain BullMQ Worker', rate: best(rates.raw), unit: 'jobs/s' },
      0.9,
      [`${n} jobs per round, concurrency ${CONCURRENCY}, best of 2 rounds; all rounds raw ${rates.raw.map(Math.round).join('/')} fleet ${rates.fleet.map(Math.round).join('/')} jobs/s`,
        `job_runs rows after both rounds: ${audited.rows[0].n} (one per job id; the second round reuses the ids, so expected ${n})`])];
  } finally {
    await services.close();
  }
};

export default bench;
