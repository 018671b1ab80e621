import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { registry } from '../../shared/metrics.ts';
import type { Services } from '../../shared/services.ts';
import type { MonitorStatus } from '../monitor/monitor.ts';

async function probe(fn: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  try {
    await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref())]);
    return 'up';
  } catch (err) {
    return `down: ${(err as Error).message}`;
  }
}

/** Checks PostgreSQL and Redis; ok only when both answer. */
export async function health(services: Pick<Services, 'db' | 'redis'>, timeoutMs = 2_000) {
  const [postgres, redis] = await Promise.all([
    probe(() => services.db.query('SELECT 1'), timeoutMs),
    probe(() => services.redis.ping(), timeoutMs),
  ]);
  return { ok: postgres === 'up' && redis === 'up', postgres, redis };
}

/**
 * A URL the router cannot read (bad percent-encoding, a param past maxParamLength): the
 * admin API's error shape, without echoing the URL back.
 */
function badUrl(err: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
  const message = tooLong ? 'A part of the URL path is too long' : 'The URL is not valid (check its percent-encoding)';
  return reply.code(tooLong ? 414 : 400).send({ error: { code: tooLong ? 'uri_too_long' : 'invalid_url', message } });
}

/**
 * The HTTP server every fleet process runs: /metrics and /healthz stay open for scrapers
 * and probes; plugins (the admin API and UI) add the authenticated rest.
 */
export async function startHttp(services: Services, plugins: FastifyPluginAsync<{ services: Services }>[] = [], port = services.config.httpPort, monitor?: { status(): MonitorStatus }): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true,
    // Node already bounds a URL (16 KB of headers); over-long params reach the route schemas,
    // whose 400 names the field, instead of the router's bare 414.
    routerOptions: { maxParamLength: 16 * 1024 },
    frameworkErrors: badUrl,
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/healthz', async (_req, reply) => {
    const h = await health(services);
    reply.code(h.ok ? 200 : 503);
    // The monitor's state is reported, not judged: a failing monitor (numbers withdrawn)
    // is not a reason for a probe to restart the process.
    return { status: h.ok ? 'ok' : 'degraded', postgres: h.postgres, redis: h.redis, ...(monitor ? { monitor: monitor.status() } : {}) };
  });
  for (const plugin of plugins) await app.register(plugin, { services });
  await app.listen({ port, host: services.config.httpHost });
  const address = app.server.address();
  services.log.info({ port: typeof address === 'object' && address ? address.port : port }, 'http server listening');
  return app;
}
