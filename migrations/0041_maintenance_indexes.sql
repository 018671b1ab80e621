-- What stock-alerts and integrity-repair need to stay fast at a million inventory rows.

-- Duplicate inventory (integrity-repair "duplicate-inventory"): two rows of one external_id
-- whose variant keys are equal once case and whitespace are ignored ("Color:Gold" and
-- "color: gold"). The unique (external_id, variant_key) cannot catch those.
CREATE FUNCTION inventory_variant_canonical(variant_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(translate(variant_key, E' \t\n\r\u00a0', ''))
$$;
-- Detection groups a million rows by this key: read index-only (INCLUDE variant_key lets the
-- planner use it), it takes ~0.7 s instead of ~3 s of sorting or hashing computed keys.
-- Ordinary quantity updates stay HOT: neither column changes.
CREATE INDEX inventory_variant_canonical_idx ON inventory (external_id, inventory_variant_canonical(variant_key)) INCLUDE (variant_key);

-- Merging duplicates moves every reference to the survivor and deletes the rest; the
-- ON DELETE CASCADE checks and the moves need these (only partial indexes existed).
CREATE INDEX stock_reservations_inventory_idx ON stock_reservations (inventory_id);
CREATE INDEX stock_alerts_inventory_idx ON stock_alerts (inventory_id);

-- stock-alerts updates level (escalation) and notified_* (after each digest) in place; none
-- of them is indexed, so with free room on the page those updates are HOT (no index
-- writes). Pending alerts are found through stock_alerts_one_open, so no index on them.
ALTER TABLE stock_alerts SET (fillfactor = 70);

CREATE INDEX admin_tokens_session_expiry_idx ON admin_tokens (expires_at) WHERE kind = 'session';

-- Deliberately absent: partial indexes on "available_quantity < 0" or on status drift.
-- Their predicates read quantity/reserved_quantity, which would turn every ordinary stock
-- update into a non-HOT update of all inventory indexes (GIN included); a sequential scan
-- of the table once per run is far cheaper (see docs/maintenance.md for the numbers).
