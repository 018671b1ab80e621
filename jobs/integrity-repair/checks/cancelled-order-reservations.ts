import { always, singleStatement, type Check } from '../check.ts';
import { releaseDetectSql, releaseRepairSql, releaseTargetsSql } from './release-reservations.ts';

// Only 'cancelled': a refunded order was fulfilled first, its reservation was consumed.
// Indexes: stock_reservations_order_idx (order_id) WHERE active; orders_status_created_idx.
const STALE = `r.status = 'active' AND EXISTS (SELECT 1 FROM orders o WHERE o.id = r.order_id AND o.status = 'cancelled')`;
const REPAIR = releaseRepairSql(STALE);

const check: Check = {
  name: 'cancelled-order-reservations',
  description: 'Active reservations of cancelled orders: released, and the items\' reserved_quantity recomputed from what stays active',
  touchesInventory: true,
  detectSql: releaseDetectSql(STALE),
  targetsSql: releaseTargetsSql(STALE),
  repairs: always,
  repairSql: REPAIR,
  repairBatch: singleStatement(REPAIR),
};
export default check;
