-- Image migration (SPEC §6): where each row's image came from and when it moved into the
-- images bucket. Other jobs read these names (integrity checks, observability).

ALTER TABLE inventory
  ADD COLUMN image_migrated_at timestamptz,
  ADD COLUMN image_source_sha256 text,
  -- The URL the migrated image was downloaded from: a forced re-run needs the original
  -- source once image_url points at our own bucket and there is no r2_url.
  ADD COLUMN image_source_url text;
ALTER TABLE products
  ADD COLUMN image_migrated_at timestamptz,
  ADD COLUMN image_source_sha256 text,
  ADD COLUMN image_source_url text;
ALTER TABLE designs
  ADD COLUMN image_migrated_at timestamptz,
  ADD COLUMN image_source_sha256 text,
  ADD COLUMN image_source_url text;

-- The hourly batch looks only at rows not migrated yet; keep that scan small.
CREATE INDEX inventory_image_pending_idx ON inventory (id) WHERE image_migrated_at IS NULL;
CREATE INDEX products_image_pending_idx ON products (id) WHERE image_migrated_at IS NULL;
CREATE INDEX designs_image_pending_idx ON designs (id) WHERE image_migrated_at IS NULL;

-- Images that could not be migrated, one row per (table, row). A permanent failure (refused
-- host, SVG, bomb, 404…) of the same source is not retried by scheduled runs; a transient one
-- is, until it has failed `attempts` times. A success deletes the row.
CREATE TABLE image_migration_failures (
  table_name text NOT NULL CHECK (table_name IN ('inventory', 'products', 'designs')),
  row_id text NOT NULL,
  source_url text NOT NULL,
  reason text NOT NULL,
  permanent boolean NOT NULL,
  attempts int NOT NULL DEFAULT 1,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, row_id)
);

-- One row per orphan scan of the images bucket. `orphaned` is what is left in the bucket
-- after the scan (found − deleted): the runbook alerts on any (fleet_images_orphaned).
CREATE TABLE image_orphan_scans (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scanned_at timestamptz NOT NULL DEFAULT now(),
  bucket text NOT NULL,
  grace_hours numeric NOT NULL,
  objects int NOT NULL,
  found int NOT NULL,
  orphaned int NOT NULL,
  deleted int NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  deleted_bytes bigint NOT NULL DEFAULT 0,
  job_id text
);
CREATE INDEX image_orphan_scans_scanned_idx ON image_orphan_scans (scanned_at DESC);
