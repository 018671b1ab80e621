-- `fleet schedules`, GET /api/schedules and the /admin status page look up the latest run of
-- each schedule: job_runs rows whose enqueued_by is 'schedule:<name>' (a tick) or
-- 'schedule:<name>/<who>' (run now by an admin). text_pattern_ops serves both = and the
-- prefix LIKE.
CREATE INDEX job_runs_enqueued_by_idx ON job_runs (enqueued_by text_pattern_ops, started_at DESC);
