import { releaseCheck } from './release-reservations.ts';

// Only 'cancelled': a refunded order was fulfilled first, its reservation was consumed.
// Indexes: stock_reservations_order_idx (order_id) WHERE active; orders_status_created_idx.
export default releaseCheck(
  'cancelled-order-reservations',
  'Active reservations of cancelled orders: released, and the items\' reserved_quantity recomputed from what stays active',
  `r.status = 'active' AND EXISTS (SELECT 1 FROM orders o WHERE o.id = r.order_id AND o.status = 'cancelled')`,
);
