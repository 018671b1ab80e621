import type { z } from 'zod';
import type { Pool } from '../../../shared/db.ts';
import type { runsQuery } from './schemas.ts';

/**
 * job_runs history, newest first, keyset-paginated on id (stable while new runs arrive).
 * Every filter is a parameter; an absent one is NULL and matches everything.
 */
export async function listRuns(db: Pool, q: z.output<typeof runsQuery>) {
  const { rows } = await db.query<{
    id: number; queue: string; job_id: string; attempt: number; name: string; enqueued_by: string; state: string;
    started_at: Date; finished_at: Date | null; duration_ms: number | null; result: unknown; error: string | null;
  }>(
    `SELECT id, queue, job_id, attempt, name, enqueued_by, state::text AS state, started_at, finished_at, duration_ms, result, error
     FROM job_runs
     WHERE ($1::text IS NULL OR queue = $1) AND ($2::job_run_state IS NULL OR state = $2)
       AND ($3::text IS NULL OR enqueued_by = $3) AND ($4::timestamptz IS NULL OR started_at >= $4)
       AND ($5::timestamptz IS NULL OR started_at < $5) AND ($6::bigint IS NULL OR id < $6)
     ORDER BY id DESC LIMIT $7`,
    [q.queue ?? null, q.state ?? null, q.enqueuedBy ?? null, q.since ?? null, q.until ?? null, q.before ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  return {
    runs: page.map((r) => ({
      id: r.id, queue: r.queue, jobId: r.job_id, attempt: r.attempt, name: r.name, enqueuedBy: r.enqueued_by, state: r.state,
      startedAt: r.started_at.toISOString(), finishedAt: r.finished_at?.toISOString() ?? null, durationMs: r.duration_ms,
      result: r.result, error: r.error,
    })),
    nextBefore: rows.length > q.limit ? page.at(-1)!.id : null,
  };
}
