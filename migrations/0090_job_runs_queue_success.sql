-- The index on job_runs (queue, state, started_at DESC) cost every run about 2 µs of
-- PostgreSQL CPU (a third of its write; measured with COPY of audit rows, bench/queue.ts
-- saw the host's PostgreSQL time per job fall from ~11 to ~6.5 µs without it) to serve two
-- lookups that need far less:
-- - the monitor's last success per queue: now one row per queue here, moved forward by the
--   audit flush in the same transaction as the runs it writes;
-- - the admin API's filters on failed, retrying or active runs: a partial index that
--   completed runs (nearly all of them) never enter.
-- Listing one queue's runs without a state walks job_runs newest first (its primary key).
CREATE TABLE job_queue_last_success (
  queue text PRIMARY KEY,
  finished_at timestamptz NOT NULL
);
INSERT INTO job_queue_last_success (queue, finished_at)
  SELECT queue, max(finished_at) FROM job_runs
  WHERE state = 'completed' AND finished_at IS NOT NULL GROUP BY queue;
DROP INDEX job_runs_queue_state_idx;
CREATE INDEX job_runs_unfinished_or_failed_idx ON job_runs (queue, state, id DESC) WHERE state <> 'completed';
