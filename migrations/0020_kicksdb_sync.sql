-- kicksdb-sync: SKU matching across sources, the upstream image kept apart from the
-- canonical one, and where each sync stands (cursor and crash-resume point).

-- One definition of "the same SKU" (SPEC §5): upper-case alphanumerics, so StockX
-- "FV5029-006" and GOAT "FV5029 006" meet. Used by the sync's upserts and the view below.
CREATE FUNCTION normalize_sku(sku text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
  SELECT nullif(upper(regexp_replace(sku, '[^A-Za-z0-9]', '', 'g')), '')
$$;

UPDATE products SET sku_normalized = normalize_sku(sku)
WHERE sku_normalized IS DISTINCT FROM normalize_sku(sku);

-- The image URL as KicksDB last sent it. image_url is the canonical URL, which image-migration
-- rewrites to our bucket; the sync compares against this column instead, so a migrated image
-- is not reverted by the next sync, and image_url is reset (migration pending again) only
-- when the upstream image really changes.
ALTER TABLE products ADD COLUMN source_image_url text;
-- "Migration pending" for a synced product means image_url is still the upstream URL;
-- image-migration finds those rows through its own index (0030, image_migrated_at IS NULL).

-- Cross-link: the same shoe on StockX and GOAT, matched by normalized SKU.
CREATE VIEW product_sku_links AS
  SELECT s.sku_normalized,
         s.id AS stockx_product_id,
         g.id AS goat_product_id,
         s.title AS stockx_title,
         g.title AS goat_title
  FROM products s
  JOIN products g ON g.sku_normalized = s.sku_normalized AND g.source = 'goat'
  WHERE s.source = 'stockx' AND s.sku_normalized IS NOT NULL;

-- One row per (source, query); query '' is the whole catalogue of that source.
CREATE TABLE kicksdb_sync_state (
  source text NOT NULL CHECK (source IN ('stockx', 'goat')),
  query text NOT NULL DEFAULT '',
  -- Newest source updated_at of the last complete run: incremental runs stop at items older than it.
  cursor_updated_at timestamptz,
  -- The run in progress (or last finished, see run_finished_at): a retry of this job id
  -- resumes after resume_page instead of starting again from page 1.
  run_job_id text,
  run_mode text CHECK (run_mode IN ('full', 'incremental')),
  resume_page int NOT NULL DEFAULT 0 CHECK (resume_page >= 0),
  run_max_updated_at timestamptz,
  -- Counters of the run so far, committed with each page, so a resumed run reports the whole run.
  run_totals jsonb NOT NULL DEFAULT '{}'::jsonb,
  run_started_at timestamptz,
  run_finished_at timestamptz,
  last_result jsonb,
  last_completed_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, query)
);

CREATE TRIGGER kicksdb_sync_state_updated_at BEFORE UPDATE ON kicksdb_sync_state
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
