import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { useTestFleet, waitFor, type TestFleet } from '../helpers.ts';
import { PayloadError } from '../../shared/errors.ts';
import { quoteIdent } from '../../shared/db.ts';
import { allJobs } from '../../jobs/index.ts';

const fleet = useTestFleet();

// Builds a value nested `depth` levels deep, e.g. {a:{a:{...}}}.
const deep = (depth: number): unknown => (depth === 0 ? 1 : { a: deep(depth - 1) });
const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
const uuid = () => crypto.randomUUID();

interface Case {
  job: string;
  why: string;
  payload: unknown;
  error: RegExp;
  /** Text that must not appear in the failure reason. */
  absent?: string;
}

/**
 * Bad payloads per job: each must be refused at the edge (enqueue) with a message naming the
 * field, and, if it reaches a worker anyway, fail at once with no retry and no write.
 */
const cases: Case[] = [
  { job: 'mv-refresh', why: 'wrong type', payload: { views: 'all' }, error: /views: Invalid input: expected array/ },
  { job: 'mv-refresh', why: 'wrong element type', payload: { views: [42] }, error: /views\.0: Invalid input: expected string/ },
  { job: 'mv-refresh', why: 'unknown field', payload: { view: ['low_stock_report'] }, error: /Unrecognized key: "view"/ },
  { job: 'mv-refresh', why: 'huge list', payload: { views: many(10_000, (i) => `v${i}`) }, error: /views: Too big/ },
  { job: 'mv-refresh', why: 'over-long identifier', payload: { views: ['x'.repeat(5_000)] }, error: /views\.0: Too big/ },
  { job: 'mv-refresh', why: 'lock timeout out of range', payload: { lockTimeoutMs: -1 }, error: /lockTimeoutMs: Too small/ },
  { job: 'mv-refresh', why: 'huge lock timeout', payload: { lockTimeoutMs: 1e12 }, error: /lockTimeoutMs: Too big/ },
  { job: 'mv-refresh', why: 'deep nesting', payload: { views: deep(500) }, error: /views: Invalid input: expected array/ },
  { job: 'mv-refresh', why: 'not an object', payload: ['low_stock_report'], error: /\(root\): Invalid input: expected object/ },
  { job: 'mv-refresh', why: 'null', payload: null, error: /\(root\)|expected object/ },

  { job: 'kicksdb-sync', why: 'missing required fields', payload: {}, error: /source: Invalid option: expected one of "stockx"\|"goat"; mode: Invalid option/ },
  { job: 'kicksdb-sync', why: 'unknown source', payload: { source: 'ebay', mode: 'full' }, error: /source: Invalid option: expected one of "stockx"\|"goat"$/ },
  { job: 'kicksdb-sync', why: 'huge page count', payload: { source: 'stockx', mode: 'full', maxPages: 1e12 }, error: /maxPages: Too big: expected number to be <=100000/ },
  { job: 'kicksdb-sync', why: 'negative page count', payload: { source: 'goat', mode: 'incremental', maxPages: -1 }, error: /maxPages: Too small/ },
  { job: 'kicksdb-sync', why: 'over-long query', payload: { source: 'stockx', mode: 'full', query: 'x'.repeat(10_000) }, error: /query: Too big/ },
  { job: 'kicksdb-sync', why: 'blank query', payload: { source: 'stockx', mode: 'full', query: '   ' }, error: /query: Too small/ },
  { job: 'kicksdb-sync', why: 'NUL in the query', payload: { source: 'stockx', mode: 'full', query: 'jordan\0' }, error: /query: must not contain NUL characters/ },
  { job: 'kicksdb-sync', why: 'unknown field (an API key in the payload)', payload: { source: 'stockx', mode: 'full', apiKey: 'k' }, error: /Unrecognized key: "apiKey"/ },
  { job: 'kicksdb-sync', why: 'deep nesting', payload: { source: deep(500), mode: 'full' }, error: /source: Invalid option/ },

  { job: 'stock-alerts', why: 'wrong type', payload: { dryRun: 'yes' }, error: /dryRun: Invalid input: expected boolean, received string/ },
  { job: 'stock-alerts', why: 'unknown field (wrong case)', payload: { dryrun: true }, error: /Unrecognized key: "dryrun"/ },
  { job: 'stock-alerts', why: 'deep nesting', payload: { dryRun: deep(500) }, error: /dryRun: Invalid input: expected boolean, received object/ },
  { job: 'stock-alerts', why: 'not an object', payload: 'dryRun', error: /\(root\): Invalid input: expected object/ },

  { job: 'integrity-repair', why: 'SQL in a check name', payload: { checks: ['status-drift; DROP TABLE inventory'] },
    error: /checks: unknown check "status-drift; DROP TABLE inventory"\. Valid checks: .*status-drift/ },
  { job: 'integrity-repair', why: "'../' in a check name", payload: { checks: ['../status-drift'] }, error: /checks: unknown check "\.\.\/status-drift"/ },
  { job: 'integrity-repair', why: 'empty check list', payload: { checks: [] }, error: /checks: Too small/ },
  { job: 'integrity-repair', why: 'huge check list', payload: { checks: many(10_000, (i) => `c${i}`) }, error: /checks: Too big/ },
  { job: 'integrity-repair', why: 'fifty unknown checks (the message names five)', payload: { checks: many(50, (i) => `${i}`.padEnd(64, 'x')) },
    error: /checks: unknown checks "0x{63}", "1x{63}", "2x{63}", "3x{63}", "4x{63}" \(\+45 more\)\. Valid checks: / },
  { job: 'integrity-repair', why: 'a 100 kB check name (echoed cut short)', payload: { checks: ['y'.repeat(100_000)] },
    error: /checks\.0: Too big: expected string to have <=64 characters; checks: unknown check "y{64}"\. Valid checks: / },
  { job: 'integrity-repair', why: 'huge batch size', payload: { batchSize: 1e12 }, error: /batchSize: Too big: expected number to be <=50000/ },
  { job: 'integrity-repair', why: 'fractional batch size', payload: { batchSize: 1.5 }, error: /batchSize: Invalid input: expected int/ },
  { job: 'integrity-repair', why: 'wrong type', payload: { dryRun: 1 }, error: /dryRun: Invalid input: expected boolean/ },

  { job: 'backup-export', why: 'unknown kind', payload: { kind: 'incremental' }, error: /kind: Invalid option: expected one of "full"\|"schema"\|"data"/ },
  { job: 'backup-export', why: 'empty table list', payload: { tables: [] }, error: /tables: Too small/ },
  { job: 'backup-export', why: 'huge table list', payload: { tables: many(10_000, (i) => `t${i}`) }, error: /tables: Too big/ },
  { job: 'backup-export', why: 'over-long table name', payload: { tables: ['x'.repeat(1_000)] }, error: /tables\.0: Too big/ },
  { job: 'backup-export', why: 'over-long label', payload: { label: 'x'.repeat(10_000) }, error: /label: Too big/ },
  { job: 'backup-export', why: 'NUL in the label (PostgreSQL text cannot hold it)', payload: { label: 'before\0migration' }, error: /label: must not contain NUL characters/ },
  { job: 'backup-export', why: 'unpaired surrogate in the label', payload: { label: 'nightly \uD800' }, error: /label: must not contain NUL characters or unpaired surrogates/ },
  { job: 'backup-export', why: 'unknown field', payload: { compress: true }, error: /Unrecognized key: "compress"/ },

  { job: 'backup-verify', why: "'../' path as the backup id", payload: { backupId: '../../etc/passwd' }, error: /backupId: Invalid UUID/ },
  { job: 'backup-verify', why: 'wrong type', payload: { backupId: 42 }, error: /backupId: Invalid input: expected string, received number/ },
  { job: 'backup-verify', why: 'huge restore parallelism', payload: { jobs: 1e12 }, error: /jobs: Too big: expected number to be <=16/ },
  { job: 'backup-verify', why: 'negative restore parallelism', payload: { jobs: -1 }, error: /jobs: Too small/ },

  { job: 'backup-prune', why: 'negative retention', payload: { keepDaily: -1 }, error: /keepDaily: Too small: expected number to be >=0/ },
  { job: 'backup-prune', why: 'huge retention', payload: { keepWeekly: 1e12 }, error: /keepWeekly: Too big/ },
  { job: 'backup-prune', why: 'number as a string', payload: { keepMonthly: '12' }, error: /keepMonthly: Invalid input: expected number, received string/ },
  { job: 'backup-prune', why: 'dry run as a string ("false" would be truthy)', payload: { dryRun: 'false' }, error: /dryRun: Invalid input: expected boolean/ },
  { job: 'backup-prune', why: 'unknown field', payload: { keep: 3 }, error: /Unrecognized key: "keep"/ },

  { job: 'image-migration', why: 'SQL in the table name', payload: { table: 'inventory; DROP TABLE inventory', ids: ['1'] },
    error: /table: Invalid option: expected one of "inventory"\|"products"\|"designs"/ },
  { job: 'image-migration', why: "'../' in an id", payload: { table: 'inventory', ids: ['../1'] }, error: /ids\.0: "\.\.\/1" is not a inventory id \(bigint\)/ },
  { job: 'image-migration', why: 'NUL in an id', payload: { table: 'inventory', ids: ['1\0'] }, error: /ids\.0: ".*" is not a inventory id/ },
  { job: 'image-migration', why: 'id past the bigint range', payload: { table: 'products', ids: ['9999999999999999999'] },
    error: /ids\.0: "9999999999999999999" is not a products id \(bigint\)/ },
  { job: 'image-migration', why: 'full-width digits', payload: { table: 'inventory', ids: ['１２３'] }, error: /ids\.0: "１２３" is not a inventory id/ },
  { job: 'image-migration', why: 'a bigint id for a uuid table', payload: { table: 'designs', ids: ['1'] }, error: /ids\.0: "1" is not a designs id \(uuid\)/ },
  { job: 'image-migration', why: 'ids without a table', payload: { ids: ['1'] }, error: /table: is required when ids are given/ },
  { job: 'image-migration', why: 'huge id list', payload: { table: 'inventory', ids: many(20_000, (i) => `${i + 1}`) }, error: /ids: Too big/ },
  { job: 'image-migration', why: '10,000 bad ids (message lists a few)', payload: { table: 'inventory', ids: many(10_000, (i) => `../${i}`) },
    error: /ids\.0: .*; ids\.9: "\.\.\/9" is not a inventory id \(bigint\) \(\+9990 more\)$/ },
  { job: 'image-migration', why: 'huge limit', payload: { limit: 1e12 }, error: /limit: Too big: expected number to be <=50000/ },
  { job: 'image-migration', why: 'negative limit', payload: { limit: -1 }, error: /limit: Too small/ },

  { job: 'image-orphans', why: 'negative grace period', payload: { graceHours: -1 }, error: /graceHours: Too small: expected number to be >=0/ },
  { job: 'image-orphans', why: 'huge grace period', payload: { graceHours: 1e12 }, error: /graceHours: Too big/ },
  { job: 'image-orphans', why: 'delete as a string', payload: { delete: 'yes' }, error: /delete: Invalid input: expected boolean, received string/ },
  { job: 'image-orphans', why: 'unknown field (dryRun does not exist: report-only is the default)', payload: { dryRun: true }, error: /Unrecognized key: "dryRun"/ },

  { job: 'inventory-import', why: 'missing source', payload: {}, error: /source: must be one of \{"path"\}, \{"s3":\{"key","bucket"\?\}\} or \{"url"\}/ },
  { job: 'inventory-import', why: 'two sources at once', payload: { source: { path: 'a.json', url: 'https://example.com/a.json' } }, error: /source: must be one of/ },
  { job: 'inventory-import', why: 'file:// URL', payload: { source: { url: 'file:///etc/passwd' } }, error: /source\.url: must be an http\(s\) URL/ },
  { job: 'inventory-import', why: 'javascript: URL', payload: { source: { url: 'javascript:alert(1)' } }, error: /source\.url: must be an http\(s\) URL/ },
  { job: 'inventory-import', why: 'over-long path', payload: { source: { path: 'x'.repeat(5_000) } }, error: /source\.path: Too big/ },
  { job: 'inventory-import', why: 'NUL in the path', payload: { source: { path: '/tmp/export.json\0.txt' } }, error: /source\.path: must not contain NUL characters/ },
  { job: 'inventory-import', why: 'unpaired surrogate in the S3 key (cannot be URL-encoded)', payload: { source: { s3: { key: 'exports/\uDC00.json' } } },
    error: /source\.s3\.key: must not contain NUL characters or unpaired surrogates/ },
  { job: 'inventory-import', why: 'empty S3 key', payload: { source: { s3: { key: '' } } }, error: /source\.s3\.key: Too small/ },
  { job: 'inventory-import', why: "'..' as the bucket", payload: { source: { s3: { bucket: '..', key: 'a.json' } } }, error: /source\.s3\.bucket: Too small/ },
  { job: 'inventory-import', why: 'unknown field in s3', payload: { source: { s3: { key: 'a.json', region: 'eu' } } }, error: /source\.s3: Unrecognized key: "region"/ },
  { job: 'inventory-import', why: 'dry run as a string', payload: { source: { path: 'a.json' }, dryRun: 'no' }, error: /dryRun: Invalid input: expected boolean/ },
  { job: 'inventory-import', why: 'deep nesting', payload: { source: deep(500) }, error: /source: must be one of/ },
];

// A local file that is not an export: its first line looks like a secret.
const notAnExport = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bad-input-')), 'not-an-export.json');
fs.writeFileSync(notAnExport, 'DB_PASSWORD=Hunter2\n{"orders": []}\n');

/**
 * Payloads the schema accepts, refused by the handler once it sees the database, the bucket
 * or the file system: each fails at once (not retried), says what is wrong, and writes nothing.
 */
const handlerCases: Case[] = [
  { job: 'mv-refresh', why: 'SQL in a view name', payload: { views: ['low_stock_report; DROP TABLE inventory'] },
    error: /^Unknown materialized view: low_stock_report; DROP TABLE inventory\. Valid views: daily_sales_summary, inventory_category_summary, low_stock_report$/ },
  { job: 'mv-refresh', why: 'quoted identifier', payload: { views: ['"low_stock_report"'] }, error: /^Unknown materialized view: "low_stock_report"\. Valid views: .*low_stock_report/ },
  { job: 'mv-refresh', why: "'../' and a NUL", payload: { views: ['../low_stock_report', 'low_stock_report\0'] },
    error: /^Unknown materialized views: \.\.\/low_stock_report, low_stock_report.\. Valid views: / },
  { job: 'mv-refresh', why: 'right-to-left override in a view name', payload: { views: ['\u202Etroper_kcots_wol'] }, error: /^Unknown materialized view: \u202Etroper_kcots_wol\. Valid views: / },
  { job: 'mv-refresh', why: 'a table, not a view', payload: { views: ['inventory'] }, error: /^Unknown materialized view: inventory\. Valid views: / },
  { job: 'backup-export', why: 'SQL in a table name', payload: { tables: ['inventory; DROP TABLE inventory'] },
    error: /^Unknown table: inventory; DROP TABLE inventory\. Known tables: .*public\.inventory/ },
  { job: 'backup-export', why: "'../' path as a table", payload: { tables: ['inventory', '../../etc/passwd'] }, error: /^Unknown table: \.\.\/\.\.\/etc\/passwd\. Known tables: / },
  { job: 'backup-verify', why: 'a backup id that does not exist', payload: { backupId: uuid() }, error: /^No backup [0-9a-f-]{36} in the backups table$/ },
  { job: 'inventory-import', why: "'../' path to a file that does not exist", payload: { source: { path: '../../../no/such/../export.json' } },
    error: /^file \.\.\/\.\.\/\.\.\/no\/such\/\.\.\/export\.json does not exist \(on the worker's machine\)$/ },
  { job: 'inventory-import', why: 'a directory as the file', payload: { source: { path: '/etc' } }, error: /^file \/etc is not a regular file$/ },
  { job: 'inventory-import', why: 'a file that is not an export (its content is not echoed)', payload: { source: { path: notAnExport } },
    error: /^file \S+not-an-export\.json is not valid JSON: /, absent: 'Hunter2' },
  { job: 'inventory-import', why: "'../' S3 key", payload: { source: { s3: { key: '../../backups/latest.dump' } } }, error: /^s3:\/\/[\w-]+\/\.\.\/\.\.\/backups\/latest\.dump does not exist$/ },
  { job: 'inventory-import', why: 'a bucket that does not exist', payload: { source: { s3: { bucket: 'no-such-bucket-here', key: 'a.json' } } },
    error: /^s3:\/\/no-such-bucket-here\/a\.json does not exist$/ },
];

/** Row counts of every table but the audit log, objects per bucket, and the matviews: any write shows. */
async function snapshot(f: TestFleet): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  const { rows } = await f.db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm', 'p') AND c.relname <> 'job_runs' ORDER BY 1`);
  for (const { name } of rows) out[name] = (await f.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(name)}`)).rows[0]!.n;
  for (const bucket of [f.config.imageBucket, f.config.backupBucket, f.config.importBucket]) {
    const page = await f.services.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    out[`s3://${bucket}`] = page.KeyCount ?? 0;
  }
  out.matviews = (await f.db.query<{ v: string }>(`SELECT string_agg(matviewname, ',' ORDER BY matviewname) AS v FROM pg_matviews`)).rows[0]!.v;
  return out;
}

/** Waits until the job has failed, completed, or been scheduled for a retry; returns it and its state. */
async function settled(f: TestFleet, queue: string, id: string, what: string): Promise<{ job: Job; state: string }> {
  const q = f.services.producer.queue(queue);
  return waitFor(async () => {
    const job = await q.getJob(id);
    const state = job ? await job.getState() : 'missing';
    return ['failed', 'completed', 'delayed'].includes(state) ? { job: (await q.getJob(id))!, state } : undefined;
  }, { what });
}

afterAll(() => fs.rmSync(path.dirname(notAnExport), { recursive: true, force: true }));

beforeAll(async () => {
  // Something to lose: a write, a delete or a drop would change the snapshot.
  await fleet.db.query(`INSERT INTO inventory (external_id, title, quantity) VALUES ('bad-input-1', 'Ring', 5), ('bad-input-2', 'Chain', 0)`);
});

describe('bad job payloads', () => {
  it('covers every job, at least two bad payloads each, and only jobs that exist', () => {
    const names = allJobs.map((j) => j.name);
    for (const c of [...cases, ...handlerCases]) expect(names, c.job).toContain(c.job);
    for (const name of names) expect(cases.filter((c) => c.job === name).length, name).toBeGreaterThanOrEqual(2);
  });

  it.each(cases)('$job: $why — refused at the edge, naming the field', async ({ job, payload, error }) => {
    const err = await fleet.services.producer.enqueue(job, payload).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadError);
    expect((err as Error).message).toMatch(new RegExp(`^Invalid payload for ${job}: `));
    expect((err as Error).message).toMatch(error);
    expect((err as Error).message.length).toBeLessThan(2_000); // bounded, even for huge input
  });

  it('a bad payload that reaches a worker anyway fails at once, without retry or writes', async () => {
    const host = await fleet.startWorkers(allJobs);
    try {
      const before = await snapshot(fleet);
      const added = [];
      const queues = new Map<string, Queue>();
      try {
        for (const c of cases) {
          let q = queues.get(c.job);
          if (!q) queues.set(c.job, q = new Queue(c.job, { connection: fleet.services.redis, prefix: fleet.config.queuePrefix }));
          added.push({ c, job: await q.add(c.job, { payload: c.payload, enqueuedBy: 'raw' }, { attempts: 5, backoff: { type: 'fixed', delay: 10 } }) });
        }
      } finally {
        await Promise.all([...queues.values()].map((q) => q.close()));
      }
      for (const { c, job } of added) {
        const done = await waitFor(async () => {
          const j = await fleet.services.producer.queue(c.job).getJob(job.id!);
          return j && (await j.getState()) === 'failed' ? j : undefined;
        }, { what: `${c.job} (${c.why}) to fail` });
        expect(done.attemptsMade, c.why).toBe(1);
        expect(done.failedReason, c.why).toMatch(c.error);
      }
      expect(await snapshot(fleet)).toEqual(before);
    } finally {
      await host.close();
    }
  });

  it('a payload the schema accepts but the handler refuses fails at once, with its reason and no writes', async () => {
    const host = await fleet.startWorkers(allJobs.filter((j) => handlerCases.some((c) => c.job === j.name)));
    try {
      const before = await snapshot(fleet);
      // Enqueued as an admin would: the schema lets these through, with the job's own retry policy.
      const ids = [];
      for (const c of handlerCases) ids.push(await fleet.services.producer.enqueue(c.job, c.payload, { enqueuedBy: 'test' }));
      for (const [i, c] of handlerCases.entries()) {
        const { job, state } = await settled(fleet, c.job, ids[i]!, `${c.job} (${c.why}) to settle`);
        expect(state, `${c.job}: ${c.why}`).toBe('failed');
        expect(job.attemptsMade, `${c.job}: ${c.why}`).toBe(1);
        expect(job.failedReason, `${c.job}: ${c.why}`).toMatch(c.error);
        if (c.absent) expect(job.failedReason).not.toContain(c.absent);
      }
      expect(await snapshot(fleet)).toEqual(before);
      const { rows } = await fleet.db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'inventory'`);
      expect(rows[0].n).toBe(1);
    } finally {
      await host.close();
    }
  });
});
