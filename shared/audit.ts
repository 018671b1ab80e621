import type { Pool } from './db.ts';
import type { Logger } from './logger.ts';
import { redact } from './redact.ts';

export type RunState = 'active' | 'completed' | 'failed' | 'retrying';

export interface RunRecord {
  queue: string;
  jobId: string;
  attempt: number;
  name: string;
  payload: unknown;
  enqueuedBy: string;
  state: RunState;
  startedAt: Date;
  finishedAt?: Date;
  result?: unknown;
  error?: string;
  detail?: unknown;
}

const MAX_JSON = 256 * 1024;
const MAX_PENDING = 50_000;
const RETRY_MS = 2_000;

const keyOf = (run: RunRecord) => `${run.queue}\u0000${run.jobId}\u0000${run.attempt}`;

/** Redacted, size-bounded copy of a value for a jsonb column. */
function safe(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'object' && Object.keys(value).length === 0) return value;
  const clean = redact(value);
  const bytes = JSON.stringify(clean)?.length ?? 0;
  return bytes > MAX_JSON ? { truncated: true, bytes } : clean;
}

/**
 * Buffers job_runs writes and flushes them in one set-based upsert. The start and the end
 * of a short job usually land in the same flush, so they cost one row write, not two:
 * this is what keeps the host near raw BullMQ throughput. A hard kill loses at most one
 * flush interval of audit rows; the jobs themselves are safe in Redis.
 */
export class AuditWriter {
  private pending = new Map<string, RunRecord>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** After a failed write, no early flushes until then: a database outage must not become a retry storm. */
  private backoffUntil = 0;

  constructor(private readonly db: Pool, private readonly log: Logger, private readonly intervalMs = 100, private readonly maxBatch = 500) {}

  record(run: RunRecord): void {
    const key = keyOf(run);
    const prev = this.pending.get(key);
    this.pending.set(key, prev ? { ...prev, ...run, detail: run.detail ?? prev.detail } : run);
    if (this.pending.size >= this.maxBatch && Date.now() >= this.backoffUntil) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** Writes everything buffered so far; concurrent calls queue behind each other. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending.clear();
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.write(batch)).catch((err: unknown) => {
      // Keep the rows for the next flush (the database may be down for a while), but bounded:
      // past MAX_PENDING the oldest are dropped, and said so, rather than growing forever.
      for (const run of batch) {
        const key = keyOf(run);
        if (!this.pending.has(key)) this.pending.set(key, run);
      }
      let dropped = 0;
      for (const key of this.pending.keys()) {
        if (this.pending.size <= MAX_PENDING) break;
        this.pending.delete(key);
        dropped++;
      }
      this.backoffUntil = Date.now() + RETRY_MS;
      this.log.error({ err, rows: batch.length, dropped }, 'could not write job_runs audit rows; will retry');
      this.timer ??= setTimeout(() => void this.flush(), RETRY_MS);
    });
    return this.flushing;
  }

  private async write(rows: RunRecord[]): Promise<void> {
    // One JSON document for the whole batch: JSON.stringify is native and PostgreSQL parses
    // it once, far cheaper than node-pg escaping twelve text arrays element by element.
    const batch = rows.map((r) => ({
      q: r.queue, j: r.jobId, a: r.attempt, n: r.name, p: safe(r.payload), e: r.enqueuedBy, s: r.state,
      st: r.startedAt, fi: r.finishedAt ?? null, r: safe(r.result),
      er: r.error ? String(redact(r.error)).slice(0, 8_000) : null, d: safe(r.detail),
    }));
    await this.db.query(
      `INSERT INTO job_runs (queue, job_id, attempt, name, payload, enqueued_by, state, started_at, finished_at,
                             duration_ms, result, error, detail)
       SELECT q, j, a, n, p, e, s::job_run_state, st, fi,
              CASE WHEN fi IS NULL THEN NULL ELSE (extract(epoch FROM fi - st) * 1000)::int END, r, er, d
       FROM jsonb_to_recordset($1::jsonb)
            AS t(q text, j text, a int, n text, p jsonb, e text, s text, st timestamptz, fi timestamptz, r jsonb, er text, d jsonb)
       ON CONFLICT (queue, job_id, attempt) DO UPDATE SET
         state = excluded.state, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
         result = excluded.result, error = excluded.error, detail = coalesce(excluded.detail, job_runs.detail)
       WHERE job_runs.state = 'active' OR excluded.state <> 'active'`,
      [JSON.stringify(batch)],
    );
  }

  /** Final flush; rows that still cannot be written are reported, not retried forever. */
  async close(): Promise<void> {
    await this.flush();
    await this.flushing;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size > 0) {
      this.log.error({ rows: this.pending.size }, 'job_runs audit rows lost at shutdown: the database did not accept them');
      this.pending.clear();
    }
  }
}
