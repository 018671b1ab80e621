import type { Logger } from './logger.ts';

/** Per-job "job completed" lines a queue may write each second before they are summarised. */
const LINES_PER_SECOND = 20;

/**
 * "job completed" log lines for one queue: one line per job while the queue is calm; past
 * LINES_PER_SECOND in a second, one summary line per second instead (count and slowest job).
 * At thousands of jobs a second a line each would cost the worker a fifth of its throughput
 * and tell nobody anything the job_runs audit and the metrics do not. Failures are always
 * logged one by one (the host does that, not this).
 */
export class CompletionLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  private slowestMs = 0;

  constructor(private readonly log: Logger, private readonly queue: string) {}

  /** `now` is the clock reading the host took at the job's end. */
  completed(run: { bindings: object }, ms: number, now: number): void {
    if (now - this.windowStart >= 1_000) this.roll(now);
    if (++this.inWindow <= LINES_PER_SECOND) {
      this.log.info({ ...run.bindings, ms: Math.round(ms) }, 'job completed');
      return;
    }
    // The summary is written when the second is over, even if no other job follows.
    if (this.suppressed++ === 0) setTimeout(() => this.roll(Date.now()), this.windowStart + 1_005 - now).unref();
    if (ms > this.slowestMs) this.slowestMs = ms;
  }

  private roll(now: number): void {
    if (now - this.windowStart < 1_000) return;
    if (this.suppressed > 0) {
      this.log.info({ queue: this.queue, completed: this.suppressed, slowestMs: Math.round(this.slowestMs), seconds: Math.round((now - this.windowStart) / 100) / 10 },
        `jobs completed (one line each above ${LINES_PER_SECOND}/s is summarised; job_runs has every run)`);
    }
    this.windowStart = now;
    this.inWindow = 0;
    this.suppressed = 0;
    this.slowestMs = 0;
  }
}
