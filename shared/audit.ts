import type { Pool } from './db.ts';
import type { Logger } from './logger.ts';
import { writeRuns, copyLine, type RunBatch } from './audit-sql.ts';
import { CopyChunks } from './copy-text.ts';

export type RunState = 'active' | 'completed' | 'failed' | 'retrying';

/** One execution of one attempt of a job: one job_runs row. Times are epoch milliseconds. */
export interface Run {
  readonly queue: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly name: string;
  readonly payload: unknown;
  readonly enqueuedBy: string;
  readonly startedAt: number;
  /** This attempt was started before (BullMQ's attemptsStarted): an earlier run may have left an 'active' row. */
  readonly restarted: boolean;
  state: RunState;
  finishedAt: number;
  result: unknown;
  error: string | undefined;
  detail: unknown;
  /** True once an 'active' row for this run is in the database or in a write under way. */
  activeWritten: boolean;
  /** The id of this run's row, once an 'active' row was committed. */
  rowId: number | undefined;
  /** The earlier run's 'active' row (see restarted) has been closed. */
  staleClosed: boolean;
}

export type RunStart = Pick<Run, 'queue' | 'jobId' | 'attempt' | 'name' | 'payload' | 'enqueuedBy' | 'restarted'>;

const MAX_PENDING = 50_000;

/** SQLSTATE classes 22 (data exception) and 23 (integrity violation): retrying cannot help. */
const refused = (err: unknown) => /^2[23]/.test(String((err as { code?: unknown }).code ?? ''));
const RETRY_MS = 2_000;

/**
 * Buffers job_runs writes and flushes them in one transaction per interval (audit-sql.ts).
 *
 * A run that finishes before the next flush is one row written once. The 'active' row is
 * only written for runs still going after a flush interval (what an admin watching a long
 * import needs), so short jobs never pay for two writes. This, and doing as little as
 * possible per job on the JavaScript thread, keeps the host near raw BullMQ throughput
 * (bench/queue.ts). A hard kill loses at most one flush interval of audit rows; the jobs
 * themselves are safe in Redis.
 */
export class AuditWriter {
  private readonly inflight = new Set<Run>();
  /** Finished runs without a row, already encoded: the run objects themselves can die young. */
  private copy = new CopyChunks();
  /** Finished runs that need more than an insert (see RunBatch). */
  private done: Run[] = [];
  /** Queue → when its latest completed run of this batch finished (job_queue_last_success). */
  private succeeded = new Map<string, number>();
  /** Batches whose write failed, oldest first, for the next flush. */
  private failed: RunBatch[] = [];
  private failedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Writes under way (queued or running). */
  private writing = 0;
  /** An early flush was asked for during a write: it happens when the write ends, with all that came in meanwhile. */
  private deferred = false;
  /** After a failed write, no early flushes until then: a database outage must not become a retry storm. */
  private backoffUntil = 0;

  /**
   * A flush every 250 ms or 5,000 rows: one transaction (and one WAL flush) per batch costs
   * the host ~1.5 % of its throughput less than one every 100 ms or 2,000 rows (bench/queue.ts,
   * 10 alternating rounds: 0.92 against 0.91 of raw BullMQ), while rows still show up well
   * within a second. A burst's last rows are written when it ends, not at the interval.
   */
  constructor(private readonly db: Pool, private readonly log: Logger, private readonly intervalMs = 250, private readonly maxBatch = 5_000) {}

  /** A run begins at `now` (epoch ms; the host reads the clock once for audit and metrics). */
  start(now: number, s: RunStart): Run {
    const run: Run = {
      queue: s.queue, jobId: s.jobId, attempt: s.attempt, name: s.name, payload: s.payload, enqueuedBy: s.enqueuedBy,
      startedAt: now, restarted: s.restarted, state: 'active', finishedAt: 0, result: undefined, error: undefined,
      detail: undefined, activeWritten: false, rowId: undefined, staleClosed: false,
    };
    this.inflight.add(run);
    this.timer ??= setTimeout(this.onTimer, this.intervalMs);
    return run;
  }

  finish(run: Run, now: number, state: Exclude<RunState, 'active'>, outcome: { result?: unknown; error?: string; detail?: unknown }): void {
    run.state = state;
    run.finishedAt = now;
    run.result = outcome.result;
    run.error = outcome.error;
    run.detail = outcome.detail;
    this.inflight.delete(run);
    if (state === 'completed' && (this.succeeded.get(run.queue) ?? -Infinity) < now) this.succeeded.set(run.queue, now);
    if (run.activeWritten || run.restarted) this.done.push(run);
    else this.copy.add(copyLine(run));
    const buffered = this.copy.rows + this.done.length;
    if (buffered > MAX_PENDING) this.dropBuffered();
    else if (buffered >= this.maxBatch && now >= this.backoffUntil) void this.flush(false);
    else this.timer ??= setTimeout(this.onTimer, this.intervalMs);
  }

  private readonly onTimer = () => {
    this.timer = undefined;
    void this.flush(false);
  };

  /**
   * Writes every finished run, and an 'active' row for runs that have been going for a flush
   * interval (for all of them when `everyActive`); writes happen one after another.
   *
   * An early flush (`everyActive` false: a full buffer, a burst's end, the interval) asked
   * for while a write is under way waits for it and then takes everything that came in
   * meanwhile: one transaction for many runs instead of one each (group commit). Its
   * promise is then the write under way's; `flush()` and close() wait for every row.
   */
  flush(everyActive = true): Promise<void> {
    if (!everyActive && this.writing > 0) {
      this.deferred = true;
      return this.flushing;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const since = Date.now() - this.intervalMs;
    const active: Run[] = [];
    let young = 0;
    for (const run of this.inflight) {
      if (run.activeWritten) continue;
      if (everyActive || run.startedAt <= since) {
        run.activeWritten = true;
        active.push(run);
      } else young++;
    }
    // Runs too young for an 'active' row keep the timer alive so theirs is written in time.
    if (young > 0) this.timer = setTimeout(this.onTimer, this.intervalMs);
    const fresh = this.copy.empty && this.done.length === 0 && active.length === 0 ? [] : [{ copy: this.copy.take(), done: this.done, active, succeeded: this.succeeded }];
    this.done = [];
    if (fresh.length) this.succeeded = new Map();
    if (fresh.length === 0 && this.failed.length === 0) return this.flushing;
    this.writing++;
    this.flushing = this.flushing.then(() => this.write(fresh)).finally(() => {
      if (--this.writing > 0 || !this.deferred) return;
      this.deferred = false;
      // After a failed write the retry timer decides when to try again.
      if (Date.now() >= this.backoffUntil) void this.flush(false);
      else this.timer ??= setTimeout(this.onTimer, this.backoffUntil - Date.now());
    });
    return this.flushing;
  }

  /**
   * Writes batches in order, after any that failed before: a run's 'active' row must reach
   * the table before its end does. The first failure keeps that batch and the rest.
   */
  private async write(fresh: RunBatch[]): Promise<void> {
    const batches = this.failed.concat(fresh);
    this.failed = [];
    this.failedRows = 0;
    for (let i = 0; i < batches.length; i++) {
      try {
        await writeRuns(this.db, batches[i]!);
      } catch (err) {
        if (refused(err)) {
          // Rows the database refuses as invalid would be refused forever and hold back every
          // row behind them: drop this batch, loudly, and go on. (Serialisation makes rows
          // storable, so this is a bug if it happens.)
          const b = batches[i]!;
          for (const run of b.active) run.activeWritten = false;
          this.log.error({ err, rows: b.copy.rows + b.done.length + b.active.length }, 'job_runs audit rows dropped: the database refused them as invalid');
          continue;
        }
        this.keepForRetry(err, batches.slice(i));
        return;
      }
    }
  }

  /** A write has hung for so long that MAX_PENDING runs wait behind it: drop them, loudly, rather than grow forever. */
  private dropBuffered(): void {
    const rows = this.copy.rows + this.done.length;
    this.copy.take();
    this.done = [];
    this.log.error({ rows }, 'job_runs audit rows dropped: a write to the database has not finished and too many rows wait behind it');
  }

  private keepForRetry(err: unknown, batches: RunBatch[]): void {
    // Keep the rows for the next flush (the database may be down for a while), but bounded:
    // past MAX_PENDING the oldest batches are dropped, and said so, rather than growing forever.
    const rows = (b: RunBatch) => b.copy.rows + b.done.length;
    this.failed = batches.concat(this.failed);
    this.failedRows = this.failed.reduce((n, b) => n + rows(b), 0);
    let dropped = 0;
    while (this.failedRows > MAX_PENDING && this.failed.length > 1) {
      const b = this.failed.shift()!;
      for (const run of b.active) run.activeWritten = false; // written again if still going
      dropped += rows(b);
      this.failedRows -= rows(b);
    }
    this.backoffUntil = Date.now() + RETRY_MS;
    this.log.error({ err, rows: this.failedRows, dropped }, 'could not write job_runs audit rows; will retry');
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimer, RETRY_MS);
  }

  /** Final flush; rows that still cannot be written are reported, not retried forever. */
  async close(): Promise<void> {
    await this.flush();
    await this.flushing;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failedRows > 0) {
      this.log.error({ rows: this.failedRows }, 'job_runs audit rows lost at shutdown: the database did not accept them');
      this.failed = [];
      this.failedRows = 0;
    }
  }
}
