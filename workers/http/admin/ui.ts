import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../shared/services.ts';
import { SESSION_COOKIE, clientAddress, type Guard } from './auth.ts';
import { createSession, endSession } from './tokens.ts';
import { errorBody } from './errors.ts';
import { esc, page } from './html.ts';
import { renderStatus } from './status-page.ts';
import { boardPlugin, boardAdmin } from './board.ts';
import type { CounterSampler } from './thresholds.ts';

const BASE = '/admin';

/** Only our own pages as a post-login target: no open redirect. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/admin(?:[/?][\w\-./?=&%]*)?$/.test(next) && !next.includes('//') ? next : BASE;
}

function loginPage(opts: { next: string; error?: string }): string {
  return page('Log in', `<form class="login" method="post" action="${BASE}/login">
<h1 style="font-size:18px;margin-top:0">Stockroom fleet admin</h1>
${opts.error ? `<div class="alert" role="alert">${esc(opts.error)}</div>` : ''}
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${esc(opts.next)}">
<button type="submit">Log in</button>
<p class="muted" style="font-size:12px">Create one with <code>fleet admin create-token --name &lt;you&gt;</code>.</p>
</form>`, { nav: false });
}

function cookieOptions(request: FastifyRequest, expires?: Date) {
  return { path: BASE, httpOnly: true, sameSite: 'strict' as const, secure: request.protocol === 'https', ...(expires ? { expires } : {}) };
}

/** The web UI: login/logout (open), then the status page and bull-board behind a session. */
export async function uiRoutes(app: FastifyInstance, services: Services, guard: Guard, sampler: CounterSampler): Promise<void> {
  const { db, config, producer } = services;

  app.get(`${BASE}/login`, async (request, reply) => {
    const next = safeNext((request.query as { next?: unknown }).next);
    if (await guard.session(request)) return reply.redirect(next, 303);
    return reply.type('text/html').send(loginPage({ next }));
  });

  app.post(`${BASE}/login`, { bodyLimit: 8 * 1024 }, async (request, reply) => {
    const body = (request.body ?? {}) as { token?: unknown; next?: unknown };
    const next = safeNext(body.next);
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    if (!token) return reply.code(400).type('text/html').send(loginPage({ next, error: 'Enter your admin token' }));
    const result = await guard.check(token, clientAddress(request), 'login');
    if (!result.ok) {
      if (result.retryAfter) reply.header('retry-after', String(result.retryAfter));
      return reply.code(result.status).type('text/html').send(loginPage({ next, error: result.message }));
    }
    const session = await createSession(db, result.admin, config.admin.sessionTtlHours, clientAddress(request));
    reply.setCookie(SESSION_COOKIE, session.token, cookieOptions(request, session.expiresAt));
    return reply.redirect(next, 303);
  });

  await app.register(async (priv) => {
    priv.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      // SameSite=Strict already keeps the cookie off cross-site requests; refusing a foreign
      // Origin on state changes is the second lock on the same door.
      const origin = request.headers.origin;
      if (request.method !== 'GET' && request.method !== 'HEAD' && origin) {
        let host: string | undefined;
        try { host = new URL(origin).host; } catch { host = undefined; }
        if (host !== request.headers.host) return reply.code(403).send(errorBody('forbidden', 'Cross-origin request refused'));
      }
      const admin = await guard.session(request);
      if (admin) {
        request.admin = admin;
        return;
      }
      if (request.method === 'GET' && !request.url.startsWith(`${BASE}/queues/api/`)) {
        return reply.redirect(`${BASE}/login?next=${encodeURIComponent(request.url)}`, 303);
      }
      return reply.code(401).send(errorBody('unauthorized', `Log in at ${BASE}/login`));
    });

    // Runs the rest of the request (the handler) inside the admin's context, for bull-board's add-job.
    priv.addHook('preHandler', (request, _reply, done) => boardAdmin.run(request.admin?.name ?? 'web-ui', done));

    priv.get(BASE, async (request, reply) => reply.type('text/html').send(await renderStatus(services, sampler, request.admin!.name)));

    const logout = async (request: FastifyRequest, reply: FastifyReply) => {
      await endSession(db, request.admin!, clientAddress(request));
      reply.clearCookie(SESSION_COOKIE, cookieOptions(request));
      return reply.redirect(`${BASE}/login`, 303);
    };
    priv.get(`${BASE}/logout`, logout);
    priv.post(`${BASE}/logout`, logout);

    await priv.register(boardPlugin(producer, `${BASE}/queues`, BASE), { prefix: `${BASE}/queues` });
  });
}
