import { describe, it, expect } from 'vitest';
import { Queue } from 'bullmq';
import { useTestFleet, waitFor } from '../helpers.ts';
import { PayloadError } from '../../shared/errors.ts';
import { allJobs } from '../../jobs/index.ts';

const fleet = useTestFleet();

// Builds a value nested `depth` levels deep, e.g. {a:{a:{...}}}.
const deep = (depth: number): unknown => (depth === 0 ? 1 : { a: deep(depth - 1) });

/**
 * Bad payloads per job: each must be refused at the edge (enqueue) with a message naming the
 * field, and, if it reaches a worker anyway, fail at once with no retry and no write.
 */
const cases: { job: string; why: string; payload: unknown; error: RegExp }[] = [
  { job: 'mv-refresh', why: 'wrong type', payload: { views: 'all' }, error: /views: Invalid input: expected array/ },
  { job: 'mv-refresh', why: 'wrong element type', payload: { views: [42] }, error: /views\.0: Invalid input: expected string/ },
  { job: 'mv-refresh', why: 'unknown field', payload: { view: ['low_stock_report'] }, error: /Unrecognized key: "view"/ },
  { job: 'mv-refresh', why: 'huge list', payload: { views: Array.from({ length: 10_000 }, (_, i) => `v${i}`) }, error: /views: Too big/ },
  { job: 'mv-refresh', why: 'over-long identifier', payload: { views: ['x'.repeat(5_000)] }, error: /views\.0: Too big/ },
  { job: 'mv-refresh', why: 'lock timeout out of range', payload: { lockTimeoutMs: -1 }, error: /lockTimeoutMs: Too small/ },
  { job: 'mv-refresh', why: 'deep nesting', payload: { views: deep(500) }, error: /views: Invalid input: expected array/ },
  { job: 'mv-refresh', why: 'not an object', payload: ['low_stock_report'], error: /\(root\): Invalid input: expected object/ },
  { job: 'mv-refresh', why: 'null', payload: null, error: /\(root\)|expected object/ },
];

describe('bad job payloads', () => {
  it('covers only jobs that exist', () => {
    const names = new Set(allJobs.map((j) => j.name));
    for (const c of cases) expect(names.has(c.job), c.job).toBe(true);
  });

  it.each(cases)('$job: $why — refused at the edge, naming the field', async ({ job, payload, error }) => {
    const err = await fleet.services.producer.enqueue(job, payload).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadError);
    expect((err as Error).message).toMatch(new RegExp(`^Invalid payload for ${job}: `));
    expect((err as Error).message).toMatch(error);
    expect((err as Error).message.length).toBeLessThan(2_000); // bounded, even for huge input
  });

  it('a bad payload that reaches a worker anyway fails at once, without retry or writes', async () => {
    const jobs = [...new Set(cases.map((c) => c.job))];
    const host = await fleet.startWorkers(allJobs.filter((j) => jobs.includes(j.name)));
    try {
      const before = await fleet.db.query(`SELECT (SELECT count(*) FROM inventory) + (SELECT count(*) FROM products) + (SELECT count(*) FROM backups) AS n`);
      const added = [];
      for (const c of cases) {
        const q = new Queue(c.job, { connection: fleet.services.redis, prefix: fleet.config.queuePrefix });
        added.push({ c, job: await q.add(c.job, { payload: c.payload, enqueuedBy: 'raw' }, { attempts: 5, backoff: { type: 'fixed', delay: 10 } }) });
        await q.close();
      }
      for (const { c, job } of added) {
        const q = fleet.services.producer.queue(c.job);
        const done = await waitFor(async () => {
          const j = await q.getJob(job.id!);
          return j && (await j.getState()) === 'failed' ? j : undefined;
        }, { what: `${c.job} (${c.why}) to fail` });
        expect(done.attemptsMade, c.why).toBe(1);
        expect(done.failedReason).toMatch(error(c));
      }
      const after = await fleet.db.query(`SELECT (SELECT count(*) FROM inventory) + (SELECT count(*) FROM products) + (SELECT count(*) FROM backups) AS n`);
      expect(after.rows[0].n).toBe(before.rows[0].n);
    } finally {
      await host.close();
    }
  });
});

function error(c: { error: RegExp }): RegExp {
  return c.error;
}
