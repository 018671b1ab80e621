import { describe, it, expect, beforeAll } from 'vitest';
import v8 from 'node:v8';
import vm from 'node:vm';
import { z } from 'zod';
import { Queue } from 'bullmq';
import { useTestFleet, waitFor } from '../helpers.ts';
import { defineJob, type AnyJob } from '../../shared/job.ts';
import { createServices, type Services } from '../../shared/services.ts';
import { createLogger } from '../../shared/logger.ts';
import { startHost } from '../../shared/host.ts';
import { PermanentJobError } from '../../shared/errors.ts';
import { allJobs } from '../../jobs/index.ts';

// A job that sleeps, watching its signal, then records its effect idempotently.
const slow = defineJob({
  name: 'test-slow',
  description: 'sleeps, then writes one effect row per job id',
  schema: z.strictObject({ ms: z.number().int().min(0), apiToken: z.string().optional(), fail: z.enum(['permanent', 'transient']).optional() }),
  options: { attempts: 3, backoff: { type: 'fixed', delay: 100 } },
  concurrency: 10,
  handler: async (payload, ctx) => {
    await ctx.db.query('INSERT INTO host_starts (job_id, attempt, first_run) VALUES ($1, $2, $3)', [ctx.job.id, ctx.job.attempt, ctx.job.firstRun]);
    if (payload.fail === 'permanent') throw new PermanentJobError('this input can never work');
    if (payload.fail === 'transient') throw new Error('flaky dependency');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, payload.ms);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason); }, { once: true });
    });
    await ctx.db.query('INSERT INTO host_effects (job_id) VALUES ($1) ON CONFLICT DO NOTHING', [ctx.job.id]);
    await ctx.progress({ done: 1, total: 1 });
    return { slept: payload.ms };
  },
});

// A job with a time limit of its own that waits for its signal and nothing else.
const limited = defineJob({
  name: 'test-limited',
  description: 'waits until its signal aborts',
  schema: z.strictObject({}),
  options: { attempts: 1 },
  timeoutMs: 300,
  handler: (_payload, ctx) => new Promise<never>((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  }),
});

const fleet = useTestFleet({ SHUTDOWN_TIMEOUT_MS: '1000' });
let services: Services;

beforeAll(async () => {
  // Services whose registry knows the test job, on the file's database and prefix.
  services = await createServices(fleet.config, [...allJobs, slow as AnyJob, limited as AnyJob], { log: createLogger('silent'), buckets: false });
  await fleet.db.query('CREATE TABLE host_effects (job_id text PRIMARY KEY, at timestamptz DEFAULT now())');
  await fleet.db.query('CREATE TABLE host_starts (id serial PRIMARY KEY, job_id text, attempt int, first_run boolean)');
  return () => services.close();
});

/** [attempt, ctx.job.firstRun] of each time the handler started the job. */
async function startsOf(id: string): Promise<[number, boolean][]> {
  const { rows } = await fleet.db.query('SELECT attempt, first_run FROM host_starts WHERE job_id = $1 ORDER BY id', [id]);
  return rows.map((r) => [r.attempt, r.first_run]);
}

async function stateOf(id: string) {
  const job = await services.producer.queue('test-slow').getJob(id);
  return job ? { state: await job.getState(), attemptsMade: job.attemptsMade, failedReason: job.failedReason, returnvalue: job.returnvalue } : undefined;
}

describe('worker host', () => {
  it('lets an active job finish during shutdown when it fits in the timeout', async () => {
    const host = await startHost(services, [slow as AnyJob]);
    const id = await services.producer.enqueue('test-slow', { ms: 300 });
    await waitFor(async () => (await stateOf(id))?.state === 'active', { what: 'job active' });
    await host.close();
    expect(await stateOf(id)).toMatchObject({ state: 'completed', returnvalue: { slept: 300 } });
  });

  it('returns a job that outlives the shutdown timeout to the queue, and it then runs once', async () => {
    const first = await startHost(services, [slow as AnyJob]);
    const id = await services.producer.enqueue('test-slow', { ms: 3_000 });
    await waitFor(async () => (await stateOf(id))?.state === 'active', { what: 'job active' });
    await first.close(); // timeout 1 s < 3 s: interrupted
    expect(await stateOf(id)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
    const { rows: none } = await fleet.db.query('SELECT 1 FROM host_effects WHERE job_id = $1', [id]);
    expect(none).toHaveLength(0);
    const second = await startHost(services, [slow as AnyJob]);
    try {
      await waitFor(async () => (await stateOf(id))?.state === 'completed', { what: 'job completed on the second host' });
    } finally {
      await second.close();
    }
    const { rows } = await fleet.db.query('SELECT count(*)::int AS n FROM host_effects WHERE job_id = $1', [id]);
    expect(rows[0].n).toBe(1);
    const audit = await fleet.db.query(`SELECT attempt, state, error FROM job_runs WHERE queue = 'test-slow' AND job_id = $1 ORDER BY id`, [id]);
    // One row per run: the interrupted run says so, the second one completed (same attempt).
    expect(audit.rows.map((r) => [r.attempt, r.state])).toEqual([[1, 'retrying'], [1, 'completed']]);
    expect(audit.rows[0].error).toMatch(/interrupted by shutdown/);
    // The handler can tell the second run may find the first one's work half done.
    expect(await startsOf(id)).toEqual([[1, true], [1, false]]);
  });

  it('ends a job at its own time limit, also with the garbage collector running meanwhile', async () => {
    v8.setFlagsFromString('--expose-gc');
    const collect = setInterval(vm.runInNewContext('gc') as () => void, 20);
    const host = await startHost(services, [limited as AnyJob]);
    try {
      const id = await services.producer.enqueue('test-limited', {});
      const queue = services.producer.queue('test-limited');
      await waitFor(async () => (await queue.getJobState(id)) === 'failed', { what: 'the job to fail at its time limit', timeoutMs: 5_000 });
      expect((await queue.getJob(id))!.failedReason).toMatch(/timeout/);
    } finally {
      clearInterval(collect);
      await host.close();
    }
  });

  it('fails an invalid payload at once, naming the field, without retries', async () => {
    // Added behind the producer's back, as another tool might.
    const raw = new Queue('test-slow', { connection: services.redis, prefix: fleet.config.queuePrefix });
    const job = await raw.add('test-slow', { payload: { ms: 'soon' }, enqueuedBy: 'other-tool' }, { attempts: 3 });
    await raw.close();
    const host = await startHost(services, [slow as AnyJob]);
    try {
      await waitFor(async () => (await stateOf(job.id!))?.state === 'failed', { what: 'job failed' });
    } finally {
      await host.close();
    }
    const s = await stateOf(job.id!);
    expect(s?.attemptsMade).toBe(1);
    expect(s?.failedReason).toMatch(/Invalid payload for test-slow: ms: .*number/);
  });

  it('retries a transient failure with backoff but not a permanent one; audits every attempt', async () => {
    const host = await startHost(services, [slow as AnyJob]);
    try {
      const transient = await services.producer.enqueue('test-slow', { ms: 0, fail: 'transient' }, { enqueuedBy: 'admin:alice' });
      const permanent = await services.producer.enqueue('test-slow', { ms: 0, fail: 'permanent' });
      await waitFor(async () => (await stateOf(transient))?.state === 'failed' && (await stateOf(permanent))?.state === 'failed', { what: 'both failed' });
      expect((await stateOf(transient))?.attemptsMade).toBe(3);
      expect(await startsOf(transient)).toEqual([[1, true], [2, false], [3, false]]);
      expect((await stateOf(permanent))?.attemptsMade).toBe(1);
      await host.close();
      const { rows } = await fleet.db.query(
        `SELECT job_id, attempt, state, error, enqueued_by FROM job_runs WHERE queue = 'test-slow' AND job_id = ANY($1) ORDER BY job_id, attempt`,
        [[transient, permanent]]);
      expect(rows.filter((r) => r.job_id === transient).map((r) => r.state)).toEqual(['retrying', 'retrying', 'failed']);
      expect(rows.filter((r) => r.job_id === transient)[0].enqueued_by).toBe('admin:alice');
      expect(rows.filter((r) => r.job_id === permanent)).toMatchObject([{ attempt: 1, state: 'failed', error: 'this input can never work' }]);
    } finally {
      await host.close();
    }
  });

  it("writes a burst's audit rows as soon as its last job ends, not at the next interval", async () => {
    const queue = services.producer.queue('test-slow');
    const jobs = await queue.addBulk(Array.from({ length: 300 }, () => ({ name: 'test-slow', data: { payload: { ms: 0 }, enqueuedBy: 'test' } })));
    // An interval far longer than the wait below: only the end of the burst can write the rows.
    const host = await startHost(services, [slow as AnyJob], { auditIntervalMs: 120_000 });
    try {
      await waitFor(async () => ((await queue.getJobCounts('completed')).completed ?? 0) >= 300, { what: 'burst completed' });
      const rows = async () => (await fleet.db.query(`SELECT count(*)::int AS n FROM job_runs WHERE queue = 'test-slow' AND job_id = ANY($1)`, [jobs.map((j) => j.id)])).rows[0]!.n;
      await waitFor(async () => (await rows()) === 300, { what: 'all 300 audit rows', timeoutMs: 5_000 });
    } finally {
      await host.close();
    }
  });

  it('redacts secrets in the audited payload', async () => {
    const host = await startHost(services, [slow as AnyJob]);
    try {
      const id = await services.producer.enqueue('test-slow', { ms: 0, apiToken: 'sk-live-123456' });
      await waitFor(async () => (await stateOf(id))?.state === 'completed', { what: 'completed' });
      await host.close();
      const { rows } = await fleet.db.query(`SELECT payload, duration_ms, result FROM job_runs WHERE queue = 'test-slow' AND job_id = $1`, [id]);
      expect(rows[0].payload).toEqual({ ms: 0, apiToken: '[redacted]' });
      expect(rows[0].result).toEqual({ slept: 0 });
      expect(rows[0].duration_ms).toBeGreaterThanOrEqual(0);
    } finally {
      await host.close();
    }
  });
});
