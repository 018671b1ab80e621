import { releaseCheck } from './release-reservations.ts';

// Index: stock_reservations_active_expiry_idx (expires_at) WHERE status = 'active'.
export default releaseCheck(
  'expired-reservations',
  'Active reservations past expires_at: released, and the items\' reserved_quantity recomputed from what stays active',
  `r.status = 'active' AND r.expires_at < now()`,
);
