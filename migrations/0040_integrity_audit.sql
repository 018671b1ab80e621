-- Integrity repair (SPEC §8): one row per repaired entity, so every automatic fix can be
-- reviewed and, if needed, undone by hand from `before`.
CREATE TABLE integrity_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The check's name (e.g. 'negative-available'); not "check", a reserved word.
  check_name text NOT NULL,
  entity text NOT NULL,
  entity_id text NOT NULL,
  before jsonb,
  after jsonb,
  job_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrity_audit_check_time_idx ON integrity_audit (check_name, created_at DESC);
CREATE INDEX integrity_audit_entity_idx ON integrity_audit (entity, entity_id);
CREATE INDEX integrity_audit_job_idx ON integrity_audit (job_id);
