// No-op jobs through the fleet's host (validation, logging, metrics, job_runs audit) versus
// a plain BullMQ Worker on the same Redis with the same concurrency and the same jobs.
//
// The host's clock stops only once every run's audit row is in job_runs: buffering the
// audit must not make the host look faster than it is. Rounds alternate which side goes
// first, so a machine that speeds up or slows down during the run favours neither.
//
// This machine's speed drifts by ±15 % within a minute (Redis's CPU per job moves with the
// Node process's, for the very same work), so rounds are shortish and many: each pair of
// sides runs within a few seconds of each other, and the median pair decides. The garbage
// of filling the queue is collected before the clock starts (run with --expose-gc), so it
// lands in neither side's time.
import { Queue, Worker } from 'bullmq';
import { z } from 'zod';
import { pino } from 'pino';
import { fromEnv } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createServices, type Services } from '../shared/services.ts';
import { startHost } from '../shared/host.ts';
import { defineJob, type AnyJob } from '../shared/job.ts';
import { jobOptions } from '../shared/queues.ts';
import { Redis } from 'ioredis';
import { ensureDatabase } from '../shared/db.ts';
import { migrate } from '../shared/migrate.ts';
import { row, type Bench } from './lib.ts';

const CONCURRENCY = 100;
const QUEUE = 'bench-noop';

const noop = defineJob({ name: QUEUE, description: 'no-op', schema: z.object({ n: z.number().optional() }), handler: async () => ({ ok: true }), concurrency: CONCURRENCY });
// Both sides get the very same jobs: the fleet's default options, with short retention.
const OPTS = { ...jobOptions(noop as AnyJob), removeOnComplete: { count: 1_000 }, removeOnFail: { count: 1_000 } };

async function fill(queue: Queue, name: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 5_000) {
    const size = Math.min(5_000, n - i);
    await queue.addBulk(Array.from({ length: size }, () => ({ name, data: { payload: {}, enqueuedBy: 'bench' }, opts: OPTS })));
  }
}

function whenCompleted(worker: Worker, n: number): Promise<void> {
  let done = 0;
  return new Promise((resolve) => worker.on('completed', () => { if (++done === n) resolve(); }));
}

/** A full collection now, when --expose-gc allows it (npm run bench passes it). */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Audit rows of this benchmark, all rounds. */
async function auditRows(services: Services): Promise<number> {
  const { rows } = await services.db.query(`SELECT count(*)::int AS n FROM job_runs WHERE queue = $1`, [QUEUE]);
  return rows[0].n;
}

/**
 * Counts the rows written after a given id, a little more per call: each call scans only
 * the rows since the previous one (by primary key), so polling stays cheap.
 */
function rowCounter(services: Services, afterId: number): () => Promise<number> {
  let cursor = afterId;
  let seen = 0;
  return async () => {
    const { rows } = await services.db.query(
      `SELECT count(*)::int AS n, coalesce(max(id), $1)::bigint AS last FROM job_runs WHERE id > $1 AND queue = $2`, [cursor, QUEUE]);
    seen += rows[0].n;
    cursor = Number(rows[0].last);
    return seen;
  };
}

async function lastRunId(services: Services): Promise<number> {
  const { rows } = await services.db.query(`SELECT coalesce(max(id), 0)::bigint AS id FROM job_runs`);
  return Number(rows[0].id);
}

/**
 * Removes this benchmark's rows, once, after the last round: deleting between rounds left
 * dirty pages and WAL that PostgreSQL wrote back during the next host round. VACUUM too,
 * as autovacuum may be off.
 */
async function clearAudit(services: Services): Promise<void> {
  await services.db.query(`DELETE FROM job_runs WHERE queue = $1`, [QUEUE]);
  await services.db.query('VACUUM job_runs');
}

async function rawRound(services: Services, n: number, round: number): Promise<number> {
  const { config } = services;
  const queue = new Queue(`bench-raw-${round}`, { connection: services.redis, prefix: config.queuePrefix });
  await fill(queue, 'noop', n);
  collectGarbage();
  const t = performance.now();
  // A plain connection, as a BullMQ user would make one (not the fleet's workerConnection),
  // made on the clock as startHost makes the host's.
  const conn = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(queue.name, async () => ({ ok: true }), { connection: conn, prefix: config.queuePrefix, concurrency: CONCURRENCY });
  await whenCompleted(worker, n);
  const rate = n / ((performance.now() - t) / 1000);
  await worker.close();
  conn.disconnect();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

async function fleetRound(services: Services, n: number): Promise<number> {
  const queue = services.producer.queue(QUEUE);
  await fill(queue, QUEUE, n);
  const written = rowCounter(services, await lastRunId(services));
  // Fresh statistics, as autovacuum keeps them: without them the planner guesses a third of
  // the table for "id > cursor" and counts by a parallel scan of every round's rows, which
  // grew the wait for the last audit rows from 15 to 40 ms over a run (on the host's clock).
  await services.db.query('ANALYZE job_runs');
  collectGarbage();
  const t = performance.now();
  const host = await startHost(services, [noop as AnyJob]);
  await whenCompleted(host.workers[0]!, n);
  while ((await written()) < n) await new Promise((r) => setTimeout(r, 1));
  const rate = n / ((performance.now() - t) / 1000);
  await host.close();
  await queue.obliterate({ force: true });
  return rate;
}

const bench: Bench = async ({ quick }) => {
  const n = quick ? 10_000 : 30_000;
  const rounds = quick ? 4 : 12;
  const base = fromEnv(process.env);
  const config = { ...base, queuePrefix: `bench${Date.now().toString(36)}`, logLevel: 'info' as const };
  await ensureDatabase(config.databaseUrl);
  await migrate(config.databaseUrl);
  // Real logging cost (JSON serialisation, async writes), without flooding the terminal.
  const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
  const services = await createServices(config, [noop as AnyJob], { log, buckets: false });
  const rates: { raw: number[]; fleet: number[] } = { raw: [], fleet: [] };
  try {
    await clearAudit(services); // rows an interrupted run left
    for (let round = 0; round < rounds; round++) {
      // ABBA order: a machine drifting faster or slower over the run favours neither side.
      if (round % 4 === 0 || round % 4 === 3) {
        rates.raw.push(await rawRound(services, n, round));
        rates.fleet.push(await fleetRound(services, n));
      } else {
        rates.fleet.push(await fleetRound(services, n));
        rates.raw.push(await rawRound(services, n, round));
      }
    }
    const audited = await auditRows(services);
    await clearAudit(services);
    // Each round's two sides ran back to back; the median of those paired ratios is the one
    // least moved by other load on the machine. The rates shown are the pair it came from.
    const pairs = rates.fleet.map((f, i) => ({ f, r: rates.raw[i]!, ratio: f / rates.raw[i]! })).sort((a, b) => a.ratio - b.ratio);
    const median = pairs[Math.floor((pairs.length - 1) / 2)]!;
    return [row('queue (no-op jobs)',
      { label: 'fleet host', rate: median.f, unit: 'jobs/s', peakRssMb: process.resourceUsage().maxRSS / 1024 },
      { label: 'plain BullMQ Worker', rate: median.r, unit: 'jobs/s' },
      0.9,
      [`${n} jobs per round, concurrency ${CONCURRENCY}, ${rounds} rounds in ABBA order, the round with the median ratio shown (lower median for an even count)`,
        `raw ${rates.raw.map(Math.round).join('/')} fleet ${rates.fleet.map(Math.round).join('/')} jobs/s; ratios sorted ${pairs.map((p) => p.ratio.toFixed(2)).join(' ')}; best fleet ${Math.round(Math.max(...rates.fleet))} vs best raw ${Math.round(Math.max(...rates.raw))}`,
        'peak RSS is the whole benchmark process (both sides)',
        `the fleet's time includes writing every audit row: ${audited} job_runs rows for ${rounds} rounds of ${n} jobs`])];
  } finally {
    await services.close();
  }
};

export default bench;
