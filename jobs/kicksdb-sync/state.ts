import type { Sql } from './queries.ts';
import type { Source, Skipped } from './schemas.ts';

// Where a sync stands (kicksdb_sync_state, migration 0020). The page cursor and the run's
// counters are written in the same transaction as that page's rows, so after a crash the
// retry continues at the first page whose data is not in the database yet.

export interface RunKey { source: Source; query: string; jobId: string }

/** Counters of a run, kept across resumes. */
export interface Totals {
  pages: number;
  requests: number;
  fetched: number;
  inserted: number;
  updated: number;
  unchanged: number;
  variants: number;
  variantsUnchanged: number;
  variantsRemoved: number;
  imagesQueued: number;
  skippedCount: number;
  /** The first skipped items (bounded); the audit detail holds the full list of the attempt. */
  skipped: Skipped[];
  statements: number;
  maxStatementsPerPage: number;
}

export const emptyTotals = (): Totals => ({
  pages: 0, requests: 0, fetched: 0, inserted: 0, updated: 0, unchanged: 0, variants: 0, variantsUnchanged: 0,
  variantsRemoved: 0, imagesQueued: 0, skippedCount: 0, skipped: [], statements: 0, maxStatementsPerPage: 0,
});

export type RunStart =
  | { kind: 'finished'; result: unknown }
  | { kind: 'run'; startPage: number; totals: Totals; runMaxUpdatedAt: string | null; cursor: string | null; resumedFromPage: number | null };

interface StateRow {
  cursor_updated_at: Date | null;
  run_job_id: string | null;
  run_mode: string | null;
  resume_page: number;
  run_max_updated_at: Date | null;
  run_totals: Partial<Totals>;
  run_finished_at: Date | null;
  last_result: unknown;
}

/** Session advisory lock: one run per (source, query) at a time, released if the process dies. */
export async function tryLock(sql: Sql, key: RunKey): Promise<boolean> {
  const { rows } = await sql.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended('kicksdb-sync:' || $1 || ':' || $2, 0)) AS ok`, [key.source, key.query]);
  return rows[0]!.ok;
}

export async function unlock(sql: Sql, key: RunKey): Promise<void> {
  await sql.query(`SELECT pg_advisory_unlock(hashtextextended('kicksdb-sync:' || $1 || ':' || $2, 0))`, [key.source, key.query]);
}

/**
 * Starts or resumes a run. The same job id (a BullMQ retry, or a stalled job picked up by
 * another worker) continues after its last committed page; it returns the stored result
 * when it had already finished. Any other job starts at page 1 with the committed cursor.
 */
export async function beginRun(sql: Sql, key: RunKey, mode: 'full' | 'incremental'): Promise<RunStart> {
  await sql.query(`INSERT INTO kicksdb_sync_state (source, query) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [key.source, key.query]);
  const { rows: [row] } = await sql.query<StateRow & Record<string, unknown>>(
    `SELECT cursor_updated_at, run_job_id, run_mode, resume_page, run_max_updated_at, run_totals, run_finished_at, last_result
     FROM kicksdb_sync_state WHERE source = $1 AND query = $2`, [key.source, key.query]);
  const cursor = row!.cursor_updated_at?.toISOString() ?? null;
  if (row!.run_job_id === key.jobId && row!.run_mode === mode) {
    if (row!.run_finished_at) return { kind: 'finished', result: row!.last_result };
    return {
      kind: 'run',
      startPage: row!.resume_page + 1,
      totals: { ...emptyTotals(), ...row!.run_totals },
      runMaxUpdatedAt: row!.run_max_updated_at?.toISOString() ?? null,
      cursor,
      resumedFromPage: row!.resume_page > 0 ? row!.resume_page + 1 : null,
    };
  }
  await sql.query(
    `UPDATE kicksdb_sync_state
     SET run_job_id = $3, run_mode = $4, resume_page = 0, run_max_updated_at = NULL, run_totals = '{}'::jsonb,
         run_started_at = now(), run_finished_at = NULL
     WHERE source = $1 AND query = $2`, [key.source, key.query, key.jobId, mode]);
  return { kind: 'run', startPage: 1, totals: emptyTotals(), runMaxUpdatedAt: null, cursor, resumedFromPage: null };
}

/** Records a committed page; runs inside the page's transaction. */
export async function commitPage(sql: Sql, key: RunKey, page: number, runMaxUpdatedAt: string | null, totals: Totals): Promise<void> {
  const { rowCount } = await sql.query(
    `UPDATE kicksdb_sync_state SET resume_page = $4, run_max_updated_at = $5, run_totals = $6
     WHERE source = $1 AND query = $2 AND run_job_id = $3`,
    [key.source, key.query, key.jobId, page, runMaxUpdatedAt, JSON.stringify(totals)]);
  // Cannot happen while we hold the advisory lock; guards against a run whose lock was lost.
  if (rowCount !== 1) throw new Error(`kicksdb-sync state for ${key.source} was taken over by another run; stopping`);
}

/** Ends the run; a complete run moves the cursor up to the newest updated_at it saw. */
export async function finishRun(sql: Sql, key: RunKey, complete: boolean, runMaxUpdatedAt: string | null, result: unknown): Promise<string | null> {
  const { rows: [row] } = await sql.query<{ cursor: Date | null }>(
    `UPDATE kicksdb_sync_state
     SET cursor_updated_at = CASE WHEN $4 THEN greatest(cursor_updated_at, $5::timestamptz) ELSE cursor_updated_at END,
         run_finished_at = now(), last_result = $6,
         last_completed_at = CASE WHEN $4 THEN now() ELSE last_completed_at END
     WHERE source = $1 AND query = $2 AND run_job_id = $3
     RETURNING cursor_updated_at AS cursor`,
    [key.source, key.query, key.jobId, complete, runMaxUpdatedAt, JSON.stringify(result)]);
  return row?.cursor?.toISOString() ?? null;
}
