import type { Pool } from '../../shared/db.ts';
import type { Producer } from '../../shared/queues.ts';
import type { JobEnvelope } from '../../shared/job.ts';
import { intervalMs } from './config.ts';

export interface LastRun {
  state: string;
  jobId: string;
  enqueuedBy: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  error: string | null;
}

export interface ScheduleStatus {
  name: string;
  job: string;
  cron: string;
  tz: string;
  next: string | null;
  /** Gap between two ticks; the status page calls a schedule overdue after two of them. */
  intervalMs: number | null;
  lastRun: LastRun | null;
  lastSuccessAt: string | null;
}

export class UnknownScheduleError extends Error {
  constructor(name: string, known: string[]) {
    super(`Unknown schedule "${name}". Schedules: ${known.join(', ') || 'none'}`);
    this.name = 'UnknownScheduleError';
  }
}

/** enqueued_by of a tick is `schedule:<name>`; of a run-now, `schedule:<name>/<who>`. */
export function scheduleRunBy(name: string, who?: string): string {
  return who ? `schedule:${name}/${who}` : `schedule:${name}`;
}

const LAST_RUNS = `
  SELECT s.name, r.state, r.job_id, r.enqueued_by, r.started_at, r.finished_at, r.duration_ms, r.error, ok.finished_at AS last_success_at
  FROM unnest($1::text[]) AS s(name)
  LEFT JOIN LATERAL (
    SELECT state::text, job_id, enqueued_by, started_at, finished_at, duration_ms, error FROM job_runs
    WHERE enqueued_by LIKE 'schedule:%' -- the partial index's predicate (0080)
      AND (enqueued_by = 'schedule:' || s.name OR enqueued_by LIKE 'schedule:' || s.name || '/%')
    ORDER BY started_at DESC, id DESC LIMIT 1) r ON true
  LEFT JOIN LATERAL (
    SELECT finished_at FROM job_runs
    WHERE enqueued_by LIKE 'schedule:%'
      AND (enqueued_by = 'schedule:' || s.name OR enqueued_by LIKE 'schedule:' || s.name || '/%') AND state = 'completed'
    ORDER BY started_at DESC, id DESC LIMIT 1) ok ON true`;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * Every schedule BullMQ holds (what actually fires, not what this process was configured
 * with), with its next run from Redis and its last run from job_runs.
 */
export async function listSchedules(producer: Producer, db: Pool): Promise<ScheduleStatus[]> {
  const found = (await Promise.all(producer.jobNames.map(async (job) => {
    const schedulers = await producer.queue(job).getJobSchedulers(0, -1, true);
    return schedulers.map((s) => ({ job, s }));
  }))).flat();
  const { rows } = await db.query<{
    name: string; state: string | null; job_id: string; enqueued_by: string; started_at: Date | null; finished_at: Date | null;
    duration_ms: number | null; error: string | null; last_success_at: Date | null;
  }>(LAST_RUNS, [found.map((f) => f.s.key)]);
  const byName = new Map(rows.map((r) => [r.name, r]));
  return found.map(({ job, s }) => {
    const r = byName.get(s.key);
    const tz = s.tz ?? 'UTC';
    let interval: number | null = null;
    try {
      if (s.pattern) interval = intervalMs(s.pattern, tz);
    } catch { /* a pattern edited by hand into nonsense: shown without an interval */ }
    return {
      name: s.key, job, cron: s.pattern ?? '', tz, next: s.next ? new Date(s.next).toISOString() : null, intervalMs: interval,
      lastRun: r?.state ? {
        state: r.state, jobId: r.job_id, enqueuedBy: r.enqueued_by, startedAt: iso(r.started_at)!, finishedAt: iso(r.finished_at),
        durationMs: r.duration_ms, error: r.error,
      } : null,
      lastSuccessAt: iso(r?.last_success_at),
    };
  }).sort((a, b) => (a.next ?? '~').localeCompare(b.next ?? '~') || a.name.localeCompare(b.name));
}

/** Runs a schedule now with its own payload; `who` lands in job_runs.enqueued_by. */
export async function runScheduleNow(producer: Producer, name: string, who: string): Promise<{ schedule: string; job: string; id: string }> {
  const known: string[] = [];
  for (const job of producer.jobNames) {
    const queue = producer.queue(job);
    const s = await queue.getJobScheduler(name);
    if (s) {
      const envelope = s.template?.data as JobEnvelope | undefined;
      const id = await producer.enqueue(job, envelope?.payload ?? {}, { enqueuedBy: scheduleRunBy(name, who) });
      return { schedule: name, job, id };
    }
    known.push(...(await queue.getJobSchedulers(0, -1, true)).map((x) => x.key));
  }
  throw new UnknownScheduleError(name, known.sort());
}
