-- Core data model (SPEC §3). Later migrations add columns; names here are an interface.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TYPE stock_status AS ENUM ('in_stock', 'low_stock', 'out_of_stock');
CREATE TYPE reservation_status AS ENUM ('active', 'released', 'consumed');
CREATE TYPE alert_level AS ENUM ('low', 'out');
CREATE TYPE alert_status AS ENUM ('open', 'resolved');
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'processing', 'shipped', 'delivered', 'cancelled', 'refunded');
CREATE TYPE job_run_state AS ENUM ('active', 'completed', 'failed', 'retrying');

-- Shared trigger function: keep updated_at honest without every writer remembering it.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

CREATE TABLE profiles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text UNIQUE,
  full_name text,
  avatar_url text,
  is_admin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id text NOT NULL,
  variant_key text NOT NULL DEFAULT '',
  title text NOT NULL,
  category text NOT NULL DEFAULT 'Components/Miscellaneous',
  unit_price numeric(10,2) NOT NULL DEFAULT 0 CHECK (unit_price >= 0),
  quantity int NOT NULL DEFAULT 0,
  reserved_quantity int NOT NULL DEFAULT 0,
  available_quantity int GENERATED ALWAYS AS (quantity - reserved_quantity) STORED,
  low_stock_threshold int NOT NULL DEFAULT 3,
  status stock_status NOT NULL DEFAULT 'in_stock',
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  store_name text,
  image_url text,
  r2_url text,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT inventory_external_variant_key UNIQUE (external_id, variant_key)
);

-- The status rule (SPEC §3) as one function, used by the trigger and by set-based repairs.
CREATE FUNCTION inventory_status_for(quantity int, reserved int, threshold int) RETURNS stock_status
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN quantity - reserved <= 0 THEN 'out_of_stock'::stock_status
    WHEN quantity - reserved <= threshold THEN 'low_stock'::stock_status
    ELSE 'in_stock'::stock_status
  END
$$;

CREATE FUNCTION inventory_apply_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.status := inventory_status_for(NEW.quantity, NEW.reserved_quantity, NEW.low_stock_threshold);
  IF TG_OP = 'UPDATE' THEN NEW.updated_at := now(); END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER inventory_status BEFORE INSERT OR UPDATE ON inventory
  FOR EACH ROW EXECUTE FUNCTION inventory_apply_status();

CREATE INDEX inventory_category_idx ON inventory (category);
-- Partial index: the alert and report queries only ever look at items that are not in stock.
CREATE INDEX inventory_not_in_stock_idx ON inventory (status, id) WHERE status <> 'in_stock';
CREATE INDEX inventory_attributes_gin ON inventory USING gin (attributes jsonb_path_ops);

CREATE TABLE stock_movements (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  inventory_id bigint NOT NULL REFERENCES inventory(id) ON DELETE CASCADE,
  delta int NOT NULL,
  quantity_after int,
  reason text NOT NULL,
  source_job text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_inventory_idx ON stock_movements (inventory_id, created_at);

CREATE TABLE designs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES profiles(id) ON DELETE SET NULL,
  name text NOT NULL,
  customization jsonb NOT NULL DEFAULT '{}'::jsonb,
  image_url text,
  r2_url text,
  is_public boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_number text NOT NULL UNIQUE,
  user_id uuid REFERENCES profiles(id) ON DELETE SET NULL,
  guest_email text,
  status order_status NOT NULL DEFAULT 'pending',
  subtotal numeric(10,2) NOT NULL DEFAULT 0,
  shipping_cost numeric(10,2) NOT NULL DEFAULT 0,
  tax numeric(10,2) NOT NULL DEFAULT 0,
  total numeric(10,2) NOT NULL DEFAULT 0,
  currency text NOT NULL DEFAULT 'USD',
  shipping_address jsonb,
  billing_address jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_status_created_idx ON orders (status, created_at);
CREATE INDEX orders_created_idx ON orders (created_at);

CREATE TABLE order_items (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- No FK on purpose: orphaned items (order deleted outside the app) are what the
  -- integrity repair reports; a cascade would hide them.
  order_id uuid NOT NULL,
  inventory_id bigint,
  design_id uuid,
  quantity int NOT NULL CHECK (quantity > 0),
  unit_price numeric(10,2) NOT NULL DEFAULT 0,
  customization jsonb,
  status order_status NOT NULL DEFAULT 'pending',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_items_order_idx ON order_items (order_id);
CREATE INDEX order_items_inventory_idx ON order_items (inventory_id);

CREATE TABLE stock_reservations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  inventory_id bigint NOT NULL REFERENCES inventory(id) ON DELETE CASCADE,
  order_id uuid,
  quantity int NOT NULL CHECK (quantity > 0),
  status reservation_status NOT NULL DEFAULT 'active',
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_reservations_active_idx ON stock_reservations (inventory_id) WHERE status = 'active';
CREATE INDEX stock_reservations_active_expiry_idx ON stock_reservations (expires_at) WHERE status = 'active';
CREATE INDEX stock_reservations_order_idx ON stock_reservations (order_id) WHERE status = 'active';

CREATE TABLE stock_alerts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  inventory_id bigint NOT NULL REFERENCES inventory(id) ON DELETE CASCADE,
  level alert_level NOT NULL,
  status alert_status NOT NULL DEFAULT 'open',
  opened_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  notified_at timestamptz,
  notified_level alert_level
);
-- At most one open alert per item.
CREATE UNIQUE INDEX stock_alerts_one_open ON stock_alerts (inventory_id) WHERE status = 'open';

CREATE TABLE products (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL CHECK (source IN ('stockx', 'goat')),
  source_product_id text NOT NULL,
  sku text,
  sku_normalized text,
  slug text,
  title text NOT NULL,
  brand text,
  image_url text,
  r2_url text,
  traits jsonb NOT NULL DEFAULT '{}'::jsonb,
  min_price numeric(10,2),
  max_price numeric(10,2),
  avg_price numeric(10,2),
  retail_price numeric(10,2),
  source_updated_at timestamptz,
  synced_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT products_source_key UNIQUE (source, source_product_id)
);
CREATE INDEX products_sku_normalized_idx ON products (sku_normalized);

CREATE TABLE product_variants (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- No FK on purpose: orphaned variants are reported and removed by integrity repair.
  product_id bigint NOT NULL,
  size text NOT NULL,
  size_type text NOT NULL DEFAULT '',
  lowest_ask numeric(10,2),
  total_asks int,
  available boolean,
  currency text NOT NULL DEFAULT 'USD',
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT product_variants_key UNIQUE (product_id, size, size_type)
);

CREATE TABLE backups (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL CHECK (kind IN ('full', 'schema', 'data')),
  label text,
  object_key text NOT NULL,
  manifest_key text,
  bytes bigint,
  sha256 text,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
  tables jsonb,
  server_version text,
  encrypted boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  duration_ms int,
  verified_at timestamptz,
  verify_result jsonb,
  restore_duration_ms int,
  error text
);
CREATE INDEX backups_status_started_idx ON backups (status, started_at DESC);

CREATE TABLE job_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  job_id text NOT NULL,
  attempt int NOT NULL DEFAULT 1,
  name text NOT NULL,
  payload jsonb,
  enqueued_by text NOT NULL DEFAULT 'unknown',
  state job_run_state NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  duration_ms int,
  result jsonb,
  error text,
  detail jsonb,
  CONSTRAINT job_runs_attempt_key UNIQUE (queue, job_id, attempt)
);
CREATE INDEX job_runs_started_idx ON job_runs (started_at DESC);
CREATE INDEX job_runs_queue_state_idx ON job_runs (queue, state, started_at DESC);

CREATE TABLE admin_users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE,
  email text,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admin_tokens (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  admin_user_id bigint NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  kind text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'session')),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX admin_tokens_expiry_idx ON admin_tokens (expires_at) WHERE revoked_at IS NULL;

CREATE TABLE admin_security_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  admin_user_id bigint REFERENCES admin_users(id) ON DELETE SET NULL,
  client_address text,
  detail jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_security_events_kind_time_idx ON admin_security_events (kind, created_at DESC);

CREATE TRIGGER profiles_updated_at BEFORE UPDATE ON profiles FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER designs_updated_at BEFORE UPDATE ON designs FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER orders_updated_at BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER products_updated_at BEFORE UPDATE ON products FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER stock_reservations_updated_at BEFORE UPDATE ON stock_reservations FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Materialized views (seed 004): each has a unique index so it can refresh CONCURRENTLY.
CREATE MATERIALIZED VIEW inventory_category_summary AS
  SELECT category,
         count(*)::int AS items,
         coalesce(sum(quantity), 0)::bigint AS units,
         coalesce(sum(unit_price * quantity), 0)::numeric(14,2) AS total_value
  FROM inventory
  WHERE is_active
  GROUP BY category;
CREATE UNIQUE INDEX inventory_category_summary_key ON inventory_category_summary (category);

CREATE MATERIALIZED VIEW low_stock_report AS
  SELECT id AS inventory_id, external_id, variant_key, title, category, status,
         quantity, reserved_quantity, available_quantity, low_stock_threshold
  FROM inventory
  WHERE is_active AND status <> 'in_stock';
CREATE UNIQUE INDEX low_stock_report_key ON low_stock_report (inventory_id);

CREATE MATERIALIZED VIEW daily_sales_summary AS
  SELECT (o.created_at AT TIME ZONE 'UTC')::date AS day,
         count(*)::int AS orders,
         coalesce(sum(o.total), 0)::numeric(14,2) AS revenue,
         coalesce(sum(items.units), 0)::bigint AS units
  FROM orders o
  LEFT JOIN LATERAL (SELECT sum(quantity) AS units FROM order_items oi WHERE oi.order_id = o.id) items ON true
  WHERE o.status NOT IN ('cancelled', 'refunded')
  GROUP BY 1;
CREATE UNIQUE INDEX daily_sales_summary_key ON daily_sales_summary (day);
