-- backup-export / backup-verify / backup-prune: what 0001's backups table lacks.
-- job_id: the BullMQ job that made the backup, so a redelivered job returns the backup it
--   already completed instead of taking a second one (at most one completed row per job).
-- table_filter: the tables a partial dump was limited to (NULL = the whole database).
-- pg_dump_version, encryption_key_id: recorded in the manifest too; here for listing.
ALTER TABLE backups
  ADD COLUMN job_id text,
  ADD COLUMN table_filter text[],
  ADD COLUMN pg_dump_version text,
  ADD COLUMN encryption_key_id text;

CREATE UNIQUE INDEX backups_job_completed_key ON backups (job_id) WHERE status = 'completed';
CREATE INDEX backups_verified_idx ON backups (verified_at DESC) WHERE verified_at IS NOT NULL;
