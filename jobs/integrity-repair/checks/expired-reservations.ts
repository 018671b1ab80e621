import { always, singleStatement, type Check } from '../check.ts';
import { releaseDetectSql, releaseRepairSql } from './release-reservations.ts';

// Index: stock_reservations_active_expiry_idx (expires_at) WHERE status = 'active'.
const STALE = `r.status = 'active' AND r.expires_at < now()`;

const check: Check = {
  name: 'expired-reservations',
  description: 'Active reservations past expires_at: released, and the items\' reserved_quantity recomputed from what stays active',
  touchesInventory: true,
  detectSql: releaseDetectSql(STALE),
  repairs: always,
  repairBatch: singleStatement(releaseRepairSql(STALE)),
};
export default check;
