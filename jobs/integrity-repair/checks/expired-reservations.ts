import { always, singleStatement, type Check } from '../check.ts';
import { releaseDetectSql, releaseRepairSql, releaseTargetsSql } from './release-reservations.ts';

// Index: stock_reservations_active_expiry_idx (expires_at) WHERE status = 'active'.
const STALE = `r.status = 'active' AND r.expires_at < now()`;
const REPAIR = releaseRepairSql(STALE);

const check: Check = {
  name: 'expired-reservations',
  description: 'Active reservations past expires_at: released, and the items\' reserved_quantity recomputed from what stays active',
  touchesInventory: true,
  detectSql: releaseDetectSql(STALE),
  targetsSql: releaseTargetsSql(STALE),
  repairs: always,
  repairSql: REPAIR,
  repairBatch: singleStatement(REPAIR),
};
export default check;
