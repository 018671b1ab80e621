import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { createTestDatabase } from '../helpers.ts';
import { createPool, type Pool } from '../../shared/db.ts';
import { AuditWriter, type RunStart } from '../../shared/audit.ts';

// The job_runs writer on its own, against a real database: the rows it leaves for short
// runs, long runs, re-runs, unstorable text, and a batch the database refuses.

let db: Pool;
let drop: () => Promise<void>;
const lines: string[] = [];
const log = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));

beforeAll(async () => {
  const t = await createTestDatabase('fleet_audit');
  drop = t.drop;
  db = createPool(t.url, { max: 4 });
});
afterAll(async () => {
  await db.end();
  await drop();
});

let seq = 0;
const runOf = (over: Partial<RunStart> = {}): RunStart => ({
  queue: 'q', jobId: `j${++seq}`, attempt: 1, name: 'q', payload: { n: seq }, enqueuedBy: 'test', restarted: false, ...over,
});
const rowsOf = async (jobId: string) =>
  (await db.query(`SELECT id, attempt, state::text, payload, result, error, detail, duration_ms, finished_at FROM job_runs WHERE job_id = $1 ORDER BY id`, [jobId])).rows;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('job_runs audit writer', () => {
  it('writes a short run once, as its final state, with duration and result', async () => {
    const audit = new AuditWriter(db, log, 50);
    const start = runOf();
    const run = audit.start(1_000_000, start);
    audit.finish(run, 1_000_042, 'completed', { result: { ok: true }, detail: { rows: 3 } });
    await audit.close();
    expect(await rowsOf(start.jobId)).toMatchObject([{ attempt: 1, state: 'completed', payload: { n: seq }, result: { ok: true }, detail: { rows: 3 }, duration_ms: 42 }]);
  });

  it('moves each queue\'s last success forward with its completed runs only, never back', async () => {
    const lastSuccess = async () => Object.fromEntries((await db.query(
      `SELECT queue, (extract(epoch FROM finished_at) * 1000)::bigint::int8 AS ms FROM job_queue_last_success WHERE queue LIKE 'ls-%'`)).rows
      .map((r) => [r.queue, Number(r.ms)]));
    const audit = new AuditWriter(db, log, 20);
    const t = 1_700_000_000_000;
    audit.finish(audit.start(t, runOf({ queue: 'ls-a' })), t + 500, 'completed', {});
    audit.finish(audit.start(t, runOf({ queue: 'ls-a' })), t + 300, 'completed', {});
    audit.finish(audit.start(t, runOf({ queue: 'ls-b' })), t + 900, 'failed', { error: 'no' });
    await audit.flush();
    expect(await lastSuccess()).toEqual({ 'ls-a': t + 500 });
    // A later batch whose completed run finished earlier (another process, a slow clock) keeps the later time.
    audit.finish(audit.start(t, runOf({ queue: 'ls-a' })), t + 100, 'completed', {});
    audit.finish(audit.start(t, runOf({ queue: 'ls-b' })), t + 700, 'completed', {});
    await audit.close();
    expect(await lastSuccess()).toEqual({ 'ls-a': t + 500, 'ls-b': t + 700 });
  });

  it("shows a long run as 'active' while it runs, then turns that same row into its end", async () => {
    const audit = new AuditWriter(db, log, 30);
    const start = runOf();
    const run = audit.start(Date.now(), start);
    await sleep(150); // past a flush interval: the 'active' row is written
    const during = await rowsOf(start.jobId);
    expect(during).toMatchObject([{ state: 'active', finished_at: null }]);
    audit.finish(run, Date.now(), 'failed', { error: 'boom', detail: { at: 'step 2' } });
    await audit.close();
    const after = await rowsOf(start.jobId);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: during[0].id, state: 'failed', error: 'boom', detail: { at: 'step 2' } });
    expect(after[0].duration_ms).toBeGreaterThanOrEqual(150);
  });

  it("closes the 'active' row a dead worker left when the attempt runs again, and keeps both runs", async () => {
    const start = runOf();
    // The first worker wrote its 'active' row, then died (never finished it).
    const dead = new AuditWriter(db, log, 20);
    dead.start(Date.now() - 5_000, start);
    await dead.flush();
    expect(await rowsOf(start.jobId)).toMatchObject([{ state: 'active' }]);
    // BullMQ hands the stalled job to another worker: same attempt, started again.
    const audit = new AuditWriter(db, log, 20);
    const run = audit.start(Date.now(), { ...start, restarted: true });
    audit.finish(run, Date.now() + 5, 'completed', { result: { again: true } });
    await audit.close();
    const rows = await rowsOf(start.jobId);
    expect(rows.map((r) => [r.attempt, r.state])).toEqual([[1, 'retrying'], [1, 'completed']]);
    expect(rows[0].error).toMatch(/stalled/);
    expect(rows[1].result).toEqual({ again: true });
  });

  it('stores text jsonb refuses (NUL, unpaired surrogates) and masks secrets, without losing the batch', async () => {
    const audit = new AuditWriter(db, log, 1_000);
    const bad = runOf({ payload: { note: 'a\u0000b', half: '\ud800x', url: 'postgres://u:hunter2@db/x', password: 'p' } });
    const good = runOf();
    const r1 = audit.start(1, bad);
    const r2 = audit.start(1, good);
    audit.finish(r1, 2, 'failed', { error: 'at postgres://u:hunter2@db/x \u0000 end', result: { 'k\u0000': 1 } });
    audit.finish(r2, 2, 'completed', { result: { ok: 1 } });
    await audit.close();
    const [row] = await rowsOf(bad.jobId);
    expect(row.payload).toEqual({ note: 'a\ufffdb', half: '\ufffdx', url: 'postgres://u:***@db/x', password: '[redacted]' });
    expect(row.result).toEqual({ 'k\ufffd': 1 });
    expect(row.error).toBe('at postgres://u:***@db/x \ufffd end');
    expect(await rowsOf(good.jobId)).toHaveLength(1);
  });

  it('stores every value as it was: text with tabs, newlines, backslashes and emoji, nested JSON, exact times', async () => {
    const audit = new AuditWriter(db, log, 1_000);
    const odd = 'tab\there\nnew line \\N back\\slash "quoted" ünï 🧦 \r end';
    const start = runOf({ jobId: `job ${odd}`, name: `name ${odd}`, enqueuedBy: `admin:${odd}`, payload: { odd, nested: [1, { x: null, y: 2.5 }], empty: {} } });
    const t = Date.UTC(2026, 11, 6, 7, 8, 9, 123);
    audit.finish(audit.start(t, start), t + 1_234, 'failed', { error: `boom ${odd}`, result: { odd }, detail: { list: [odd] } });
    const old = runOf({ queue: 'pre-2000' });
    audit.finish(audit.start(Date.UTC(1999, 11, 31, 23, 59, 59, 999), old), Date.UTC(2000, 0, 1, 0, 0, 0, 1), 'completed', {});
    // Times are spliced from a cached second: whole seconds and two-digit milliseconds too.
    const round = runOf();
    audit.finish(audit.start(t - 123, round), t - 123 + 45, 'completed', {});
    await audit.close();
    const { rows } = await db.query(
      `SELECT job_id, name, enqueued_by, state::text, payload, result, detail, error, duration_ms,
              (extract(epoch FROM started_at) * 1000)::bigint::int8 AS st, (extract(epoch FROM finished_at) * 1000)::bigint::int8 AS fi
       FROM job_runs WHERE job_id = ANY($1) ORDER BY id`, [[start.jobId, old.jobId, round.jobId]]);
    expect(rows[0]).toEqual({
      job_id: `job ${odd}`, name: `name ${odd}`, enqueued_by: `admin:${odd}`, state: 'failed',
      payload: { odd, nested: [1, { x: null, y: 2.5 }], empty: {} }, result: { odd }, detail: { list: [odd] }, error: `boom ${odd}`,
      duration_ms: 1_234, st: t, fi: t + 1_234,
    });
    expect(rows[1]).toMatchObject({ state: 'completed', payload: old.payload, result: null, duration_ms: 2,
      st: Date.UTC(1999, 11, 31, 23, 59, 59, 999), fi: Date.UTC(2000, 0, 1, 0, 0, 0, 1) });
    expect(rows[2]).toMatchObject({ st: t - 123, fi: t - 78 });
  });

  it('stores a huge result as a size note instead', async () => {
    const audit = new AuditWriter(db, log, 1_000);
    const start = runOf();
    const run = audit.start(1, start);
    audit.finish(run, 2, 'completed', { result: { rows: Array.from({ length: 40_000 }, (_, i) => `row ${i} ${'x'.repeat(10)}`) } });
    await audit.close();
    const [row] = await rowsOf(start.jobId);
    expect(row.result.truncated).toBe(true);
    expect(row.result.bytes).toBeGreaterThan(256 * 1024);
  });

  it('keeps rows while the database refuses writes and writes them once it accepts again', async () => {
    const audit = new AuditWriter(db, log, 20);
    const start = runOf();
    await db.query(`ALTER TABLE job_runs RENAME TO job_runs_away`);
    try {
      const run = audit.start(Date.now(), start);
      audit.finish(run, Date.now(), 'completed', { result: { ok: true } });
      await audit.flush();
      expect(lines.some((l) => l.includes('could not write job_runs audit rows; will retry'))).toBe(true);
    } finally {
      await db.query(`ALTER TABLE job_runs_away RENAME TO job_runs`);
    }
    await audit.close();
    expect(await rowsOf(start.jobId)).toMatchObject([{ state: 'completed' }]);
  });

  it('drops a batch the database refuses as invalid, says so, and goes on with the next', async () => {
    await db.query(`ALTER TABLE job_runs ADD CONSTRAINT no_poison CHECK (job_id <> 'poison')`);
    try {
      const audit = new AuditWriter(db, log, 1_000);
      const poison = audit.start(1, runOf({ jobId: 'poison' }));
      audit.finish(poison, 2, 'completed', {});
      await audit.flush();
      const next = runOf();
      audit.finish(audit.start(3, next), 4, 'completed', {});
      await audit.close();
      expect(lines.some((l) => l.includes('job_runs audit rows dropped: the database refused them as invalid'))).toBe(true);
      expect(await rowsOf('poison')).toHaveLength(0);
      expect(await rowsOf(next.jobId)).toHaveLength(1);
    } finally {
      await db.query(`ALTER TABLE job_runs DROP CONSTRAINT no_poison`);
    }
  });

  // A second connection holds job_runs locked, so the writer's COPY waits, as behind a slow database.
  async function withTableLocked<T>(during: () => T | Promise<T>): Promise<T> {
    const locker = await db.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE job_runs IN ACCESS EXCLUSIVE MODE');
    try {
      return await during();
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  }

  it('gathers the runs that finish during a write into one transaction, not one each', async () => {
    const audit = new AuditWriter(db, log, 60_000);
    const queue = `gc-${seq}`;
    await withTableLocked(async () => {
      audit.finish(audit.start(1, runOf({ queue })), 2, 'completed', {});
      void audit.flush(false);
      await sleep(50); // the first COPY now waits for the lock
      for (let i = 0; i < 50; i++) {
        audit.finish(audit.start(3, runOf({ queue })), 4, 'completed', {});
        void audit.flush(false); // what the host does at every burst's end
      }
    });
    await audit.close();
    const { rows } = await db.query(`SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS transactions FROM job_runs WHERE queue = $1`, [queue]);
    expect(rows[0]).toEqual({ n: 51, transactions: 2 });
  });

  it('drops, loudly, what piles up behind a write that does not finish instead of growing without bound', async () => {
    const audit = new AuditWriter(db, log, 60_000);
    const queue = `pile-${seq}`;
    const before = lines.length;
    await withTableLocked(async () => {
      audit.finish(audit.start(1, runOf({ queue })), 2, 'completed', {});
      void audit.flush(false);
      await sleep(50);
      for (let i = 0; i < 50_001; i++) audit.finish(audit.start(3, runOf({ queue, payload: {} })), 4, 'completed', {});
      expect(lines.slice(before).some((l) => l.includes('a write to the database has not finished and too many rows wait behind it'))).toBe(true);
      audit.finish(audit.start(5, runOf({ queue })), 6, 'completed', {});
    });
    await audit.close();
    // The first run (written before the pile-up) and the one after the drop are kept.
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM job_runs WHERE queue = $1`, [queue]);
    expect(rows[0].n).toBe(2);
  });
});
