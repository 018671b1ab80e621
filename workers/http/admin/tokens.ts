import crypto from 'node:crypto';
import type { Pool } from '../../../shared/db.ts';
import { withTransaction } from '../../../shared/db.ts';

// Admin credentials. A token is 32 random bytes; only its sha256 is stored, so a database
// leak yields nothing to log in with. High-entropy tokens need no slow hash: a preimage
// search over 2^256 is the attacker's only way in.

export const TOKEN_PREFIX = 'fleet_';
const MAX_TOKEN_LENGTH = 256;

export interface AdminIdentity { userId: number; name: string; tokenId: number; kind: 'api' | 'session' }
export type TokenFailure = 'unknown' | 'revoked' | 'expired' | 'inactive';

export function newToken(): string {
  return `${TOKEN_PREFIX}${crypto.randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

export type SecurityEventKind = 'login_failed' | 'lockout' | 'login' | 'logout' | 'token_created' | 'token_revoked';

export async function recordSecurityEvent(db: Pool, kind: SecurityEventKind, e: { adminUserId?: number; clientAddress?: string; detail?: unknown } = {}): Promise<void> {
  await db.query(
    'INSERT INTO admin_security_events (kind, admin_user_id, client_address, detail) VALUES ($1, $2, $3, $4)',
    [kind, e.adminUserId ?? null, e.clientAddress ?? null, e.detail === undefined ? null : JSON.stringify(e.detail)],
  );
}

/** Creates the admin (if missing) and an API token for it; the token is returned once, never stored. */
export async function createApiToken(db: Pool, opts: { admin: string; label?: string; expiresAt?: Date }): Promise<{ token: string; id: number; admin: string; name: string; expiresAt: Date | null }> {
  const token = newToken();
  const name = opts.label ?? opts.admin;
  return withTransaction(db, async (c) => {
    const user = await c.query<{ id: number; is_active: boolean }>(
      `INSERT INTO admin_users (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id, is_active`, [opts.admin]);
    const u = user.rows[0]!;
    if (!u.is_active) throw new Error(`admin "${opts.admin}" is deactivated; reactivate it (admin_users.is_active) before issuing tokens`);
    const t = await c.query<{ id: number }>(
      `INSERT INTO admin_tokens (admin_user_id, name, token_hash, kind, expires_at) VALUES ($1, $2, $3, 'api', $4) RETURNING id`,
      [u.id, name, hashToken(token).toString('hex'), opts.expiresAt ?? null]);
    const id = t.rows[0]!.id;
    await c.query(`INSERT INTO admin_security_events (kind, admin_user_id, detail) VALUES ('token_created', $1, $2)`, [u.id, JSON.stringify({ tokenId: id, name })]);
    return { token, id, admin: opts.admin, name, expiresAt: opts.expiresAt ?? null };
  });
}

/** A browser session minted from a verified API token; revoking that token ends it too. */
export async function createSession(db: Pool, parent: AdminIdentity, ttlHours: number, clientAddress: string): Promise<{ token: string; expiresAt: Date }> {
  const token = newToken();
  const { rows } = await db.query<{ expires_at: Date }>(
    `INSERT INTO admin_tokens (admin_user_id, name, token_hash, kind, expires_at, parent_token_id)
     VALUES ($1, $2, $3, 'session', now() + make_interval(hours => $4), $5) RETURNING expires_at`,
    [parent.userId, `session:${parent.name}`, hashToken(token).toString('hex'), ttlHours, parent.tokenId]);
  await recordSecurityEvent(db, 'login', { adminUserId: parent.userId, clientAddress, detail: { tokenId: parent.tokenId } });
  return { token, expiresAt: rows[0]!.expires_at };
}

/** Checks a presented token of the given kind; never throws for a bad token, says why it failed. */
export async function verifyToken(db: Pool, token: string, kind: 'api' | 'session'): Promise<AdminIdentity | { failure: TokenFailure }> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return { failure: 'unknown' };
  const hash = hashToken(token);
  const { rows } = await db.query<{ id: number; kind: string; token_hash: string; revoked: boolean; expired: boolean; user_id: number; name: string; is_active: boolean }>(
    `SELECT t.id, t.kind, t.token_hash, t.revoked_at IS NOT NULL AS revoked, coalesce(t.expires_at <= now(), false) AS expired,
            u.id AS user_id, u.name, u.is_active
     FROM admin_tokens t JOIN admin_users u ON u.id = t.admin_user_id WHERE t.token_hash = $1`, [hash.toString('hex')]);
  const row = rows[0];
  // The index lookup already matched; the constant-time compare keeps the final decision
  // independent of where two hashes differ, whatever the database did.
  if (!row || row.kind !== kind || !crypto.timingSafeEqual(Buffer.from(row.token_hash, 'hex'), hash)) return { failure: 'unknown' };
  if (row.revoked) return { failure: 'revoked' };
  if (row.expired) return { failure: 'expired' };
  if (!row.is_active) return { failure: 'inactive' };
  // At most one write a minute per token: last_used_at is for humans, not an audit log.
  void db.query(`UPDATE admin_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [row.id]).catch(() => {});
  return { userId: row.user_id, name: row.name, tokenId: row.id, kind };
}

/** Revokes a token by id, or every API token with that name; their sessions end with them. */
export async function revokeTokens(db: Pool, ref: string): Promise<{ id: number; name: string }[]> {
  const byId = /^\d+$/.test(ref);
  return withTransaction(db, async (c) => {
    const { rows } = await c.query<{ id: number; name: string; admin_user_id: number }>(
      `UPDATE admin_tokens SET revoked_at = now()
       WHERE revoked_at IS NULL AND kind = 'api' AND ${byId ? 'id = $1::bigint' : 'name = $1'}
       RETURNING id, name, admin_user_id`, [ref]);
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    await c.query(`UPDATE admin_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND parent_token_id = ANY($1::bigint[])`, [ids]);
    await c.query(
      `INSERT INTO admin_security_events (kind, admin_user_id, detail)
       SELECT 'token_revoked', u, jsonb_build_object('tokenId', i, 'name', n) FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS t(i, u, n)`,
      [ids, rows.map((r) => r.admin_user_id), rows.map((r) => r.name)]);
    return rows.map((r) => ({ id: r.id, name: r.name }));
  });
}

/** Ends one session (logout). */
export async function endSession(db: Pool, who: AdminIdentity, clientAddress: string): Promise<void> {
  await db.query(`UPDATE admin_tokens SET revoked_at = now() WHERE id = $1 AND kind = 'session' AND revoked_at IS NULL`, [who.tokenId]);
  await recordSecurityEvent(db, 'logout', { adminUserId: who.userId, clientAddress });
}

export interface TokenRow { id: number; admin: string; name: string; createdAt: Date; lastUsedAt: Date | null; expiresAt: Date | null; revokedAt: Date | null }

export async function listApiTokens(db: Pool): Promise<TokenRow[]> {
  const { rows } = await db.query<TokenRow>(
    `SELECT t.id, u.name AS admin, t.name, t.created_at AS "createdAt", t.last_used_at AS "lastUsedAt",
            t.expires_at AS "expiresAt", t.revoked_at AS "revokedAt"
     FROM admin_tokens t JOIN admin_users u ON u.id = t.admin_user_id WHERE t.kind = 'api' ORDER BY t.id`);
  return rows;
}
