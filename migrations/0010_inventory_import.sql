-- inventory-import (issue 3): the status trigger only runs when it has work to do.
--
-- 0001 calls a PL/pgSQL function for every inserted or updated inventory row. A bulk
-- import computes status itself (inventory_status_for) and sets updated_at, so for it the
-- call is pure cost (about a third of the time of a million-row upsert). The trigger keeps
-- its name and function; a WHEN clause skips it when the row's status already follows the
-- rule. The rule still holds for every writer: a row whose status is wrong still fires it.
-- inventory_status_for is an inlinable SQL function, so the WHEN test is a plain expression.
DROP TRIGGER inventory_status ON inventory;
CREATE TRIGGER inventory_status BEFORE INSERT OR UPDATE ON inventory
  FOR EACH ROW
  WHEN (NEW.status IS DISTINCT FROM inventory_status_for(NEW.quantity, NEW.reserved_quantity, NEW.low_stock_threshold))
  EXECUTE FUNCTION inventory_apply_status();

-- updated_at on UPDATE was the other half of inventory_apply_status; it now has its own
-- trigger that fires unless the writer set updated_at itself (the import does).
CREATE TRIGGER inventory_updated_at BEFORE UPDATE ON inventory
  FOR EACH ROW
  WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
  EXECUTE FUNCTION set_updated_at();

-- Movements written by one job (an import's audit trail, "what did job X change?").
CREATE INDEX stock_movements_source_job_idx ON stock_movements (source_job) WHERE source_job IS NOT NULL;
