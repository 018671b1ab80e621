import { always, singleStatement, type Check } from '../check.ts';

// Admin sessions (admin_tokens kind 'session') past expires_at can never authenticate
// again; they only inflate the "active admin sessions" count (SPEC §9). API tokens are
// not touched. The audit keeps the row without its token_hash.
// Index: admin_tokens_session_expiry_idx (expires_at) WHERE kind = 'session'.

const EXPIRED = `t.kind = 'session' AND t.expires_at < now()`;

const repairSql = `
WITH cand AS (
  SELECT t.id FROM admin_tokens t WHERE t.id = ANY($2::bigint[]) AND ${EXPIRED}
  FOR UPDATE SKIP LOCKED
),
gone AS (
  DELETE FROM admin_tokens d USING cand WHERE d.id = cand.id
  RETURNING d.*
),
audit AS (
  INSERT INTO integrity_audit (check_name, entity, entity_id, before, after, job_id)
  SELECT $3, 'admin_session', g.id::text, to_jsonb(g) - 'token_hash', NULL, $1 FROM gone g
  RETURNING 1
)
SELECT count(*)::int AS repaired FROM audit`;

const check: Check = {
  name: 'expired-admin-sessions',
  description: 'Admin sessions past their expiry: removed',
  touchesInventory: false,
  detectSql: `SELECT count(*)::int AS found FROM admin_tokens t WHERE ${EXPIRED}`,
  targetsSql: `SELECT t.id::text AS id FROM admin_tokens t WHERE ${EXPIRED} LIMIT $1`,
  repairs: always,
  repairSql,
  repairBatch: singleStatement(repairSql),
};
export default check;
