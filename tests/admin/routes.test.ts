import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify';
import { useTestFleet } from '../helpers.ts';
import { startHttp } from '../../workers/http/server.ts';
import { httpPlugins } from '../../workers/http/plugins.ts';
import { createApiToken, revokeTokens } from '../../workers/http/admin/tokens.ts';
import { SESSION_COOKIE } from '../../workers/http/admin/auth.ts';
import type { Services } from '../../shared/services.ts';
import { client, securityEvents } from './support.ts';

const fleet = useTestFleet();
let app: FastifyInstance;
const routes: { method: string; url: string }[] = [];
const { call } = client(() => app);

// Registered first and not encapsulated (skip-override), so its onRoute hook sees every
// route every later plugin adds, bull-board's included.
const collector: FastifyPluginAsync<{ services: Services }> = async (instance) => {
  instance.addHook('onRoute', (r: RouteOptions) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });
};
(collector as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

// By necessity: the scrapers' endpoints and the page where a token is typed in.
const OPEN = new Set(['GET /metrics', 'HEAD /metrics', 'GET /healthz', 'HEAD /healthz', 'GET /admin/login', 'HEAD /admin/login', 'POST /admin/login']);

beforeAll(async () => {
  app = await startHttp(fleet.services, [collector, ...httpPlugins]);
});
afterAll(async () => {
  await app?.close();
});

async function login(token: string) {
  const res = await fetch(`${client(() => app).base()}/admin/login`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, next: '/admin/queues' }),
  });
  return { status: res.status, location: res.headers.get('location'), cookie: res.headers.get('set-cookie') ?? '' };
}

describe('every route but /metrics, /healthz and the login page needs credentials', () => {
  it('walks every registered route without credentials, and with a forged session cookie', async () => {
    const guarded = routes.filter((r) => !OPEN.has(`${r.method} ${r.url}`) && !OPEN.has(`${r.method} ${r.url.replace(/\/$/, '')}`));
    expect(guarded.length).toBeGreaterThan(30); // the API plus bull-board's routes
    expect(guarded.map((r) => r.url)).toEqual(expect.arrayContaining(['/api/jobs/:job', '/admin', '/admin/queues/api/queues']));
    const answered: string[] = [];
    for (const r of guarded) {
      const path = r.url.replace(/:[A-Za-z]+/g, 'mv-refresh').replace(/\*$/, 'index.js');
      for (const headers of [{}, { cookie: `${SESSION_COOKIE}=fleet_forged` }] as Record<string, string>[]) {
        const res = await call(r.method, path, { headers });
        const refused = res.status === 401 || (res.status === 303 && res.headers.get('location')?.startsWith('/admin/login'));
        if (!refused) answered.push(`${r.method} ${r.url} → ${res.status}`);
      }
    }
    expect(answered).toEqual([]);
    // The open ones do answer.
    expect((await call('GET', '/metrics')).status).toBe(200);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/admin/login')).status).toBe(200);
  });
});

describe('web UI sessions', () => {
  it('exchanges a token for an httpOnly SameSite=Strict cookie, which opens the UI until logout', async () => {
    const { token, id } = await createApiToken(fleet.db, { admin: 'carol' });
    const wrong = await login('fleet_wrong');
    expect(wrong.status).toBe(401);
    expect(wrong.cookie).toBe('');
    expect((await securityEvents(fleet, 'login_failed')).at(-1)?.detail).toEqual({ reason: 'unknown', via: 'login' });

    const ok = await login(token);
    expect([ok.status, ok.location]).toEqual([303, '/admin/queues']);
    expect(ok.cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=fleet_[\\w-]+; Path=/admin; Expires=.*; HttpOnly; SameSite=Strict$`));
    const cookie = ok.cookie.split(';')[0]!;
    const { rows } = await fleet.db.query(`SELECT kind, name, parent_token_id, expires_at > now() + interval '11 hours' AS long FROM admin_tokens WHERE kind = 'session'`);
    expect(rows).toEqual([{ kind: 'session', name: 'session:carol', parent_token_id: id, long: true }]);

    const status = await call('GET', '/admin', { headers: { cookie } });
    expect(status.status).toBe(200);
    expect(Object.fromEntries(['x-frame-options', 'cache-control', 'referrer-policy'].map((h) => [h, status.headers.get(h)])))
      .toEqual({ 'x-frame-options': 'DENY', 'cache-control': 'no-store', 'referrer-policy': 'same-origin' });
    expect(status.text).toContain('Signed in as carol');
    expect((await call('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(200);
    // A session is not an API token, and cross-site state changes are refused.
    expect((await call('GET', '/api/queues', { token: cookie.split('=')[1] })).status).toBe(401);
    expect((await call('PUT', '/admin/queues/api/queues/mv-refresh/pause', { headers: { cookie, origin: 'https://evil.example' } })).status).toBe(403);
    // Open redirects are not: next must stay under /admin.
    const res = await fetch(`${client(() => app).base()}/admin/login`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, next: '//evil.example/admin' }),
    });
    expect(res.headers.get('location')).toBe('/admin');

    // bull-board's "add job" goes through the fleet's producer: validated, and audited as this admin.
    const add = (data: unknown) => call('POST', '/admin/queues/api/queues/mv-refresh/add', {
      headers: { cookie, origin: client(() => app).base() }, body: { name: 'mv-refresh', data, options: {} },
    });
    const added = await add({ views: ['low_stock_report'] });
    expect(added.status).toBe(200);
    const job = await fleet.services.producer.queue('mv-refresh').getJob(added.json.job.id);
    expect(job?.data).toEqual({ payload: { views: ['low_stock_report'], lockTimeoutMs: 10_000 }, enqueuedBy: 'admin:carol' });
    const invalid = await add({ views: 'all' });
    expect(invalid.status).toBeGreaterThanOrEqual(400);
    expect(invalid.text).toMatch(/Invalid payload for mv-refresh: views/);

    const out = await call('POST', '/admin/logout', { headers: { cookie } });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/admin/login']);
    expect((await call('GET', '/admin', { headers: { cookie } })).status).toBe(303);
  });

  it('revoking the API token ends the sessions made from it', async () => {
    const { token } = await createApiToken(fleet.db, { admin: 'dave' });
    const cookie = (await login(token)).cookie.split(';')[0]!;
    expect((await call('GET', '/admin', { headers: { cookie } })).status).toBe(200);
    await revokeTokens(fleet.db, 'dave');
    expect((await call('GET', '/admin', { headers: { cookie } })).status).toBe(303);
  });
});
