// How a batch of job runs reaches job_runs: one transaction per flush, as few bytes and as
// little server work per row as possible (bench/queue.ts measures it against raw BullMQ).
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Pool, PoolClient } from './db.ts';
import type { Run } from './audit.ts';
import { auditJson, storableString } from './redact.ts';
import { copyText } from './copy-text.ts';

const MAX_JSON = 256 * 1024;

/** What one flush writes (see AuditWriter). */
export interface RunBatch {
  /** COPY lines of finished runs that have no row yet: nearly all of them. */
  copy: { chunks: Buffer[]; rows: number };
  /** Finished runs that need more than an insert: their 'active' row exists, or they were restarted. */
  done: Run[];
  /** Runs still going that get their 'active' row now. */
  active: Run[];
  /** Queue → epoch ms its latest completed run in this batch finished. */
  succeeded: Map<string, number>;
}

/**
 * Writes one batch of job runs, all or nothing.
 * - A finished run with no row yet: a COPY line, the cheapest insert there is.
 * - An 'active' row: INSERT with an id taken from the sequence first, so the run's end can
 *   update exactly that row.
 * - A finished run whose 'active' row exists: UPDATE by id (or a COPY line if the write of
 *   that 'active' row failed).
 * - A run whose attempt was started before (the worker running it died or lost its lock):
 *   the earlier run's row, if still 'active', is closed as 'retrying' first.
 * Row ids are given to the runs only once the transaction committed.
 */
export async function writeRuns(db: Pool, batch: RunBatch): Promise<void> {
  const { done, active } = batch;
  const known: Run[] = [];
  const lines: string[] = [];
  for (const run of done) {
    if (run.rowId !== undefined) known.push(run);
    else lines.push(copyLine(run));
  }
  const restarted = done.concat(active).filter((r) => r.restarted && !r.staleClosed);
  const copyChunks = lines.length ? [...batch.copy.chunks, Buffer.from(lines.join(''))] : batch.copy.chunks;
  const onlyCopy = restarted.length === 0 && active.length === 0 && known.length === 0 && batch.succeeded.size === 0;
  const client = await db.connect();
  let ids: number[] = [];
  try {
    // A COPY alone is atomic already.
    if (!onlyCopy) await client.query('BEGIN');
    if (restarted.length) await client.query(CLOSE_STALE, [`[${restarted.map((r) => `{"q":${str(r.queue)},"j":${str(r.jobId)},"a":${r.attempt},"st":${r.startedAt}}`).join(',')}]`]);
    if (active.length) {
      ids = (await client.query<{ id: number }>(NEXT_IDS, [active.length])).rows.map((r) => r.id);
      await client.query(INSERT_ACTIVE, [activeJson(active, ids)]);
    }
    if (known.length) await client.query(UPDATE_FINISHED, [finishedJson(known)]);
    if (copyChunks.length) await copyIn(client, copyChunks);
    if (batch.succeeded.size) {
      // Last, so the row lock is held briefly; in name order, so two processes never deadlock.
      const queues = [...batch.succeeded.keys()].sort();
      await client.query(LAST_SUCCESS, [queues, queues.map((q) => batch.succeeded.get(q)!)]);
    }
    if (!onlyCopy) await client.query('COMMIT');
  } catch (err) {
    if (!onlyCopy) await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  active.forEach((run, i) => { run.rowId = ids[i]; });
  for (const run of restarted) run.staleClosed = true;
}

const errorText = (error: string | undefined) => (error ? storableString(error.slice(0, 8_000)) : null);
const json = (value: unknown) => auditJson(value, MAX_JSON) ?? 'null';
const str = (s: string) => JSON.stringify(storableString(s));

// JSON documents for the statements below, with the jsonb values spliced in as the text
// auditJson made. PostgreSQL parses a document once, far cheaper than node-pg escaping
// arrays element by element. Times travel as epoch milliseconds.
function activeJson(runs: Run[], ids: number[]): string {
  return `[${runs.map((r, i) => `{"id":${ids[i]},"q":${str(r.queue)},"j":${str(r.jobId)},"a":${r.attempt},"n":${str(r.name)},"p":${json(r.payload)},"e":${str(r.enqueuedBy)},"st":${r.startedAt}}`).join(',')}]`;
}

function finishedJson(runs: Run[]): string {
  return `[${runs.map((r) => `{"id":${r.rowId},"s":"${r.state}","st":${r.startedAt},"fi":${r.finishedAt},"r":${json(r.result)},"er":${JSON.stringify(errorText(r.error))},"d":${json(r.detail)}}`).join(',')}]`;
}

const CLOSE_STALE = `
  UPDATE job_runs SET state = 'retrying', finished_at = to_timestamp(t.st / 1000),
         error = 'the worker running this attempt stopped (stalled); the attempt was started again'
  FROM json_to_recordset($1::json) AS t(q text, j text, a int, st float8)
  WHERE job_runs.state = 'active' AND job_runs.queue = t.q AND job_runs.job_id = t.j AND job_runs.attempt = t.a
    AND job_runs.started_at < to_timestamp(t.st / 1000)`;

const LAST_SUCCESS = `
  INSERT INTO job_queue_last_success AS s (queue, finished_at)
  SELECT q, to_timestamp(ms / 1000) FROM unnest($1::text[], $2::float8[]) AS t(q, ms)
  ON CONFLICT (queue) DO UPDATE SET finished_at = greatest(s.finished_at, excluded.finished_at)`;

const NEXT_IDS = `SELECT nextval(pg_get_serial_sequence('job_runs', 'id'))::bigint AS id FROM generate_series(1, $1::int)`;

const INSERT_ACTIVE = `
  INSERT INTO job_runs (id, queue, job_id, attempt, name, payload, enqueued_by, state, started_at)
  OVERRIDING SYSTEM VALUE
  SELECT id, q, j, a, n, p, e, 'active', to_timestamp(st / 1000)
  FROM json_to_recordset($1::json) AS t(id bigint, q text, j text, a int, n text, p jsonb, e text, st float8)`;

const UPDATE_FINISHED = `
  UPDATE job_runs SET state = t.s::job_run_state, finished_at = to_timestamp(t.fi / 1000), duration_ms = (t.fi - t.st)::int,
         result = t.r, error = t.er, detail = coalesce(t.d, job_runs.detail)
  FROM json_to_recordset($1::json) AS t(id bigint, s text, st float8, fi float8, r jsonb, er text, d jsonb)
  WHERE job_runs.id = t.id`;

const COPY = `COPY job_runs (queue, job_id, attempt, name, payload, enqueued_by, state, started_at, finished_at,
  duration_ms, result, error, detail) FROM STDIN`;

/** A jsonb field of a COPY line: NULL, or the JSON with its backslashes doubled. */
function copyJson(value: unknown): string {
  if (isEmptyObject(value)) return '{}'; // most payloads of scheduled jobs
  const json = auditJson(value, MAX_JSON);
  if (json === null) return '\\N';
  return json.includes('\\') ? json.replace(/\\/g, '\\\\') : json;
}

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const _ in value) return false;
  return true;
}

/**
 * Epoch milliseconds as ISO text, remembering the last second's text: runs of a batch start
 * and finish within the same second by the thousand, and Date#toISOString costs half a
 * microsecond, ten times the splice. One per column: a run's start and end differ, and
 * would evict each other from one.
 */
function isoClock(): (ms: number) => string {
  let second = NaN;
  let head = ''; // "2026-12-06T23:31:20."
  return (ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      const iso = new Date(s * 1000).toISOString();
      // "YYYY-MM-DDTHH:MM:SS.000Z" for years 0000-9999; other years take the long way below.
      head = iso.length === 24 ? iso.slice(0, 20) : '';
    }
    const frac = ms - s * 1000;
    if (!head || !Number.isInteger(frac)) return new Date(ms).toISOString();
    return `${head}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  };
}
const startedIso = isoClock();
const finishedIso = isoClock();

/** The COPY line of a finished run (COPY above names the columns in this order). */
export function copyLine(r: Run): string {
  const queue = copyText(r.queue);
  return `${queue}\t${copyText(r.jobId)}\t${r.attempt}\t${r.name === r.queue ? queue : copyText(r.name)}\t${copyJson(r.payload)}\t${copyText(r.enqueuedBy)}\t${r.state}\t${startedIso(r.startedAt)}\t${finishedIso(r.finishedAt)}\t${Math.round(r.finishedAt - r.startedAt)}\t${copyJson(r.result)}\t${copyText(errorText(r.error))}\t${copyJson(r.detail)}\n`;
}

async function copyIn(client: PoolClient, chunks: Buffer[]): Promise<void> {
  const stream = client.query(copyFrom(COPY));
  let failure: Error | undefined;
  stream.on('error', (err: Error) => { failure ??= err; });
  for (const chunk of chunks) {
    if (!stream.write(chunk)) await once(stream, 'drain');
    if (failure) throw failure;
  }
  stream.end();
  await finished(stream);
}
