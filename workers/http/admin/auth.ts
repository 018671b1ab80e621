import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import type { Services } from '../../../shared/services.ts';
import { counter } from '../../../shared/metrics.ts';
import { ApiError } from './errors.ts';
import { verifyToken, recordSecurityEvent, type AdminIdentity, type TokenFailure } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, once an auth hook has accepted the request. */
    admin: AdminIdentity | null;
  }
}

export const SESSION_COOKIE = 'fleet_session';

/** Runbook (seed 002): failed admin logins > 10/hour warning, > 25/hour critical. */
export function failedLoginsCounter() {
  return counter({ name: 'fleet_admin_failed_logins_total', help: 'Failed admin authentications: unknown, revoked or expired tokens' });
}

export function clientAddress(request: FastifyRequest): string {
  const ip = request.ip || 'unknown';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

// Counts failures per address in a window; reaching the limit locks the address for the
// same time. One script, so concurrent failures cannot both miss the limit.
const FAIL = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

export type LoginResult = { ok: true; admin: AdminIdentity } | { ok: false; status: 401 | 429; message: string; retryAfter?: number };

/**
 * Checks presented credentials (a bearer token, or a token typed into the login page), with
 * lockout per client address: failures are audited (admin_security_events 'login_failed'),
 * counted, and after ADMIN_LOCKOUT_ATTEMPTS within the window the address gets 429s.
 */
export class Guard {
  private readonly failed = failedLoginsCounter();

  constructor(private readonly services: Services) {}

  private keys(address: string) {
    const base = `${this.services.config.queuePrefix}:_fleet:admin`;
    const a = address.slice(0, 64);
    return { fails: `${base}:fails:${a}`, locked: `${base}:locked:${a}` };
  }

  /** Seconds left on this address's lockout; 0 when it may try. */
  async lockedSeconds(address: string): Promise<number> {
    const ms = await this.services.redis.pttl(this.keys(address).locked);
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  private async fail(address: string, reason: TokenFailure, via: 'bearer' | 'login'): Promise<void> {
    const { db, redis, log, config } = this.services;
    this.failed.inc();
    const k = this.keys(address);
    const locked = await redis.eval(FAIL, 2, k.fails, k.locked, config.admin.lockoutSeconds, config.admin.lockoutAttempts);
    try {
      await recordSecurityEvent(db, 'login_failed', { clientAddress: address, detail: { reason, via } });
      if (locked === 1) await recordSecurityEvent(db, 'lockout', { clientAddress: address, detail: { seconds: config.admin.lockoutSeconds } });
    } catch (err) {
      log.error({ err }, 'could not record an admin security event');
    }
    log.warn({ clientAddress: address, reason, via, lockedOut: locked === 1 }, 'admin authentication failed');
  }

  async check(token: string, address: string, via: 'bearer' | 'login'): Promise<LoginResult> {
    const wait = await this.lockedSeconds(address);
    if (wait > 0) return { ok: false, status: 429, message: `Too many failed logins from this address; try again in ${wait} s`, retryAfter: wait };
    const result = await verifyToken(this.services.db, token, 'api');
    if ('failure' in result) {
      await this.fail(address, result.failure, via);
      const message = result.failure === 'unknown' ? 'Token not accepted' : `Token not accepted: it is ${result.failure}`;
      return { ok: false, status: 401, message };
    }
    await this.services.redis.del(this.keys(address).fails);
    return { ok: true, admin: result };
  }

  /** The API's check: `Authorization: Bearer <token>`; throws 401/429 as ApiError. */
  async bearer(request: FastifyRequest): Promise<AdminIdentity> {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer[ ]+([^\s]+)\s*$/i.exec(header) : null;
    const address = clientAddress(request);
    if (!match) {
      const wait = await this.lockedSeconds(address);
      if (wait > 0) throw new ApiError(429, 'locked_out', `Too many failed logins from this address; try again in ${wait} s`, undefined, { 'retry-after': String(wait) });
      throw new ApiError(401, 'unauthorized', 'Missing bearer token (Authorization: Bearer <token>)', undefined, { 'www-authenticate': 'Bearer' });
    }
    const result = await this.check(match[1]!, address, 'bearer');
    if (result.ok) return result.admin;
    if (result.status === 429) throw new ApiError(429, 'locked_out', result.message, undefined, { 'retry-after': String(result.retryAfter) });
    throw new ApiError(401, 'unauthorized', result.message, undefined, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }

  /** The web UI's check: a session cookie minted at login. A stale cookie is not an attack: no event. */
  async session(request: FastifyRequest): Promise<AdminIdentity | undefined> {
    const token = request.cookies[SESSION_COOKIE];
    if (!token) return undefined;
    const result = await verifyToken(this.services.db, token, 'session');
    return 'failure' in result ? undefined : result;
  }
}
