import type { FastifyPluginAsync } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { Services } from '../../../shared/services.ts';
import { Guard } from './auth.ts';
import { apiErrorHandler, ApiError, sendApiError } from './errors.ts';
import { apiRoutes } from './api.ts';
import { openApiDocument } from './openapi.ts';
import { uiRoutes } from './ui.ts';
import { CounterSampler } from './thresholds.ts';

/**
 * The admin surface beside /metrics and /healthz: the JSON API under /api (bearer tokens)
 * and the web UI under /admin (session cookie from the login page). Nothing here answers
 * without credentials except the login page itself.
 */
export const adminPlugin: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const guard = new Guard(services);
  const sampler = new CounterSampler();
  await sampler.sample();
  const timer = setInterval(() => void sampler.sample().catch(() => {}), 60_000).unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.decorateRequest('admin', null);
  // Admin pages and answers are never framed, sniffed, cached, or sent as a Referer to other
  // sites (same-origin, not no-referrer: that makes browsers send "Origin: null" on our own
  // form posts, which the Origin check refuses).
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-frame-options', 'DENY').header('x-content-type-options', 'nosniff').header('referrer-policy', 'same-origin');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 8 * 1024 });

  await app.register(async (api) => {
    api.setErrorHandler(apiErrorHandler(services.log));
    // The API speaks JSON only: a text or form body gets a 415 saying so, not a confusing
    // "expected object, received string" (the form parser is the login page's).
    api.removeContentTypeParser(['text/plain', 'application/x-www-form-urlencoded']);
    // Registered before the auth hook, so it authenticates itself: an unknown path is no
    // way around the token.
    api.setNotFoundHandler(async (request, reply) => {
      request.admin ??= await guard.bearer(request);
      return sendApiError(reply, new ApiError(404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`));
    });
    api.addHook('onRequest', async (request) => {
      request.admin = await guard.bearer(request);
    });
    const doc = openApiDocument([...services.jobs.values()]);
    api.get('/openapi.json', async () => doc);
    await apiRoutes(api, services);
  }, { prefix: '/api' });

  await uiRoutes(app, services, guard, sampler);
};
