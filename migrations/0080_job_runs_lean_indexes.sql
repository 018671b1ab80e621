-- job_runs takes a row for every job run; at thousands of jobs a second every index is paid
-- on every insert, and on a small host the database shares the CPU with Redis and the
-- workers (bench/queue.ts). So:
-- - One row per execution, appended (COPY) and never upserted: the unique key on
--   (queue, job_id, attempt) goes. It also made a re-run of the same attempt (after a stall,
--   a shutdown, or a job id used again) overwrite the earlier run's row; now both are kept.
--   A run's end updates its own 'active' row by id; a re-run closes an earlier run's row
--   still marked 'active', found through the small partial index below.
-- - started_at grows with insertion order: BRIN serves the admin API's since/until filters
--   at a fraction of a btree's upkeep (history pages are ordered by id).
-- - The schedule lookup (0070) only asks for 'schedule:%' rows, a small share of all runs:
--   a partial index skips every other row. Queries repeat the predicate to use it.
ALTER TABLE job_runs DROP CONSTRAINT job_runs_attempt_key;
CREATE INDEX job_runs_active_idx ON job_runs (queue, job_id, attempt) WHERE state = 'active';
DROP INDEX job_runs_started_idx;
CREATE INDEX job_runs_started_brin ON job_runs USING brin (started_at);
DROP INDEX job_runs_enqueued_by_idx;
CREATE INDEX job_runs_schedule_runs_idx ON job_runs (enqueued_by text_pattern_ops, started_at DESC)
  WHERE enqueued_by LIKE 'schedule:%';
