import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { useTestFleet, waitFor } from '../helpers.ts';
import { startHttp } from '../../workers/http/server.ts';
import { httpPlugins } from '../../workers/http/plugins.ts';
import { createApiToken, revokeTokens } from '../../workers/http/admin/tokens.ts';
import { currentValue } from '../../workers/http/admin/thresholds.ts';
import { reconcileSchedules, schedulesOf } from '../../workers/scheduler.ts';
import { allJobs } from '../../jobs/index.ts';
import mvRefresh from '../../jobs/mv-refresh/index.ts';
import { client, securityEvents } from './support.ts';

const fleet = useTestFleet({ ADMIN_LOCKOUT_ATTEMPTS: '5', ADMIN_LOCKOUT_SECONDS: '60' });
let app: FastifyInstance;
let token: string;
const { call } = client(() => app);

beforeAll(async () => {
  app = await startHttp(fleet.services, httpPlugins);
  token = (await createApiToken(fleet.db, { admin: 'alice' })).token;
});
afterAll(async () => {
  await app?.close();
});
beforeEach(async () => {
  // Each test starts with a clean failure count for 127.0.0.1.
  const keys = await fleet.services.redis.keys(`${fleet.config.queuePrefix}:_fleet:admin:*`);
  if (keys.length) await fleet.services.redis.del(...keys);
});

describe('admin API authentication', () => {
  it('refuses a request without a token, without counting it as a failed login', async () => {
    const before = (await securityEvents(fleet, 'login_failed')).length;
    const res = await call('GET', '/api/queues');
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'unauthorized', message: 'Missing bearer token (Authorization: Bearer <token>)' } });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await securityEvents(fleet, 'login_failed')).toHaveLength(before);
  });

  it('refuses a wrong token: 401, a login_failed event and the failed-logins counter', async () => {
    const before = (await currentValue('fleet_admin_failed_logins_total')) ?? 0;
    const events = (await securityEvents(fleet, 'login_failed')).length;
    const res = await call('GET', '/api/queues', { token: 'fleet_not-a-real-token' });
    expect(res.status).toBe(401);
    expect(res.json.error).toEqual({ code: 'unauthorized', message: 'Token not accepted' });
    expect(await currentValue('fleet_admin_failed_logins_total')).toBe(before + 1);
    const after = await securityEvents(fleet, 'login_failed');
    expect(after).toHaveLength(events + 1);
    expect(after.at(-1)).toMatchObject({ client_address: '127.0.0.1', detail: { reason: 'unknown', via: 'bearer' } });
    expect(JSON.stringify(after)).not.toContain('not-a-real-token');
  });

  it('refuses revoked and expired tokens, saying which', async () => {
    const revoked = await createApiToken(fleet.db, { admin: 'bob', label: 'bob-laptop' });
    expect((await call('GET', '/api/queues', { token: revoked.token })).status).toBe(200);
    expect(await revokeTokens(fleet.db, 'bob-laptop')).toEqual([{ id: revoked.id, name: 'bob-laptop' }]);
    const r1 = await call('GET', '/api/queues', { token: revoked.token });
    expect([r1.status, r1.json.error.message]).toEqual([401, 'Token not accepted: it is revoked']);
    const expired = await createApiToken(fleet.db, { admin: 'bob', label: 'old', expiresAt: new Date(Date.now() - 1000) });
    const r2 = await call('GET', '/api/queues', { token: expired.token });
    expect([r2.status, r2.json.error.message]).toEqual([401, 'Token not accepted: it is expired']);
    expect((await securityEvents(fleet, 'login_failed')).slice(-2).map((e) => e.detail?.reason)).toEqual(['revoked', 'expired']);
    expect((await securityEvents(fleet, 'token_revoked')).at(-1)?.detail).toEqual({ tokenId: revoked.id, name: 'bob-laptop' });
  });

  it('locks an address out after repeated failures, even for a valid token, and tells it when to come back', async () => {
    for (let i = 0; i < 4; i++) expect((await call('GET', '/api/queues', { token: `fleet_guess${i}` })).status).toBe(401);
    expect((await call('GET', '/api/queues', { token: 'fleet_guess5' })).status).toBe(401); // the 5th failure locks
    const locked = await call('GET', '/api/queues', { token });
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('locked_out');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(50);
    expect((await call('GET', '/api/queues')).status).toBe(429);
    expect((await securityEvents(fleet, 'lockout')).at(-1)).toMatchObject({ client_address: '127.0.0.1', detail: { seconds: 60 } });
  });

  it('a success resets the failure count', async () => {
    for (let i = 0; i < 4; i++) await call('GET', '/api/queues', { token: 'fleet_wrong' });
    expect((await call('GET', '/api/queues', { token })).status).toBe(200);
    for (let i = 0; i < 4; i++) await call('GET', '/api/queues', { token: 'fleet_wrong' });
    expect((await call('GET', '/api/queues', { token })).status).toBe(200);
  });
});

describe('admin API', () => {
  it('validates at the edge: 400 listing every bad field, 404 for an unknown job, stable error shape', async () => {
    const bad = await call('POST', '/api/jobs/mv-refresh', { token, body: { payload: { views: 'all', extra: 1 } } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_payload');
    expect(bad.json.error.details).toEqual([
      { path: 'payload.views', message: expect.stringMatching(/expected array/i) },
      { path: 'payload', message: expect.stringMatching(/Unrecognized key.*extra/) },
    ]);
    const envelope = await call('POST', '/api/jobs/mv-refresh', { token, body: { payload: {}, jobId: '123', delayMs: -1, surprise: true } });
    expect(envelope.status).toBe(400);
    expect(envelope.json.error.code).toBe('invalid_request');
    expect(envelope.json.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['body', 'body.delayMs', 'body.jobId']);
    const unknown = await call('POST', '/api/jobs/nope', { token, body: {} });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'unknown_job']);
    expect(unknown.json.error.message).toMatch(/Valid jobs: .*mv-refresh/);
    const notJson = await call('POST', '/api/jobs/mv-refresh', { token, raw: '{"payload": ' });
    expect([notJson.status, notJson.json.error.code]).toEqual([400, 'invalid_json']);
    const huge = await call('POST', '/api/jobs/mv-refresh', { token, body: { payload: { views: ['x'.repeat(300 * 1024)] } } });
    expect([huge.status, huge.json.error.code]).toEqual([413, 'payload_too_large']);
    const query = await call('GET', '/api/runs?limit=0&state=lost&since=yesterday', { token });
    expect(query.status).toBe(400);
    expect(query.json.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['query.limit', 'query.since', 'query.state']);
    const route = await call('GET', '/api/nothing-here', { token });
    expect([route.status, route.json.error.code]).toEqual([404, 'not_found']);
  });

  it('enqueues as the token\'s admin, reports the job, and keeps the audit trail in job_runs', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const res = await call('POST', '/api/jobs/mv-refresh', { token, body: { payload: { views: ['low_stock_report'] } } });
      expect(res.status).toBe(202);
      expect(res.json).toEqual({ job: 'mv-refresh', id: expect.any(String) });
      const id = res.json.id as string;
      const done = await waitFor(async () => {
        const r = await call('GET', `/api/jobs/mv-refresh/${id}`, { token });
        return r.json.state === 'completed' ? r.json : undefined;
      }, { what: 'the job to complete' });
      expect(done).toMatchObject({
        job: 'mv-refresh', id, state: 'completed', attemptsMade: 1, enqueuedBy: 'admin:alice', failedReason: null,
        payload: { views: ['low_stock_report'], lockTimeoutMs: 10000 }, result: { refreshed: [expect.objectContaining({ view: 'low_stock_report' })] },
      });
      const run = await waitFor(async () => (await fleet.db.query(
        `SELECT enqueued_by, state FROM job_runs WHERE queue = 'mv-refresh' AND job_id = $1 AND state = 'completed'`, [id])).rows[0], { what: 'the audit row' });
      expect(run).toEqual({ enqueued_by: 'admin:alice', state: 'completed' });

      await call('POST', '/api/jobs/mv-refresh', { token, body: { payload: {} } });
      await waitFor(async () => (await fleet.db.query(`SELECT 1 FROM job_runs WHERE enqueued_by = 'admin:alice' AND state = 'completed'`)).rowCount === 2);
      const page1 = await call('GET', '/api/runs?enqueuedBy=admin:alice&limit=1', { token });
      expect(page1.json.runs).toHaveLength(1);
      expect(page1.json.nextBefore).toBe(page1.json.runs[0].id);
      const page2 = await call('GET', `/api/runs?enqueuedBy=admin:alice&limit=1&before=${page1.json.nextBefore}`, { token });
      expect(page2.json.runs.map((r: { jobId: string }) => r.jobId)).toEqual([id]);
      expect(page2.json.nextBefore).toBeNull();
      const filtered = await call('GET', `/api/runs?queue=mv-refresh&state=failed&since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`, { token });
      expect(filtered.json.runs).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it('retries a failed job and removes a job; refuses both when the state does not allow it', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    let id: string;
    try {
      id = (await call('POST', '/api/jobs/mv-refresh', { token, body: { payload: { views: ['nope'] } } })).json.id;
      await waitFor(async () => (await call('GET', `/api/jobs/mv-refresh/${id}`, { token })).json.state === 'failed', { what: 'the job to fail' });
    } finally {
      await host.close();
    }
    const failed = await call('GET', `/api/jobs/mv-refresh/${id}`, { token });
    expect(failed.json.failedReason).toMatch(/Unknown materialized view: nope/);
    const retried = await call('POST', `/api/jobs/mv-refresh/${id}/retry`, { token });
    expect([retried.status, retried.json.state]).toEqual([200, 'waiting']);
    const again = await call('POST', `/api/jobs/mv-refresh/${id}/retry`, { token });
    expect([again.status, again.json.error.code]).toEqual([409, 'conflict']);
    expect((await call('DELETE', `/api/jobs/mv-refresh/${id}`, { token })).status).toBe(204);
    expect((await call('GET', `/api/jobs/mv-refresh/${id}`, { token })).json.error.code).toBe('not_found');
  });

  it('lists queues, pauses and resumes one', async () => {
    const list = await call('GET', '/api/queues', { token });
    expect(list.json.queues.map((q: { queue: string }) => q.queue)).toEqual(allJobs.map((j) => j.name));
    expect(list.json.queues[0]).toMatchObject({ paused: false, counts: expect.objectContaining({ waiting: expect.any(Number), failed: expect.any(Number) }) });
    expect((await call('POST', '/api/queues/mv-refresh/pause', { token })).json).toEqual({ queue: 'mv-refresh', paused: true });
    expect(await fleet.services.producer.queue('mv-refresh').isPaused()).toBe(true);
    expect((await call('POST', '/api/queues/mv-refresh/resume', { token })).json).toEqual({ queue: 'mv-refresh', paused: false });
    expect((await call('POST', '/api/queues/nope/pause', { token })).status).toBe(404);
  });

  it('lists schedules with next and last run, and runs one now on behalf of the admin', async () => {
    await reconcileSchedules(fleet.services, schedulesOf(allJobs));
    const before = await call('GET', '/api/schedules', { token });
    const mv = before.json.schedules.find((s: { name: string }) => s.name === 'mv-refresh');
    expect(mv).toMatchObject({ job: 'mv-refresh', cron: '*/10 * * * *', tz: 'UTC', intervalMs: 600_000, next: expect.any(String) });
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const run = await call('POST', '/api/schedules/mv-refresh/run', { token });
      expect(run.status).toBe(202);
      expect(run.json).toMatchObject({ schedule: 'mv-refresh', job: 'mv-refresh', id: expect.any(String) });
      const after = await waitFor(async () => {
        const s = (await call('GET', '/api/schedules', { token })).json.schedules.find((x: { name: string }) => x.name === 'mv-refresh');
        return s.lastRun?.state === 'completed' ? s : undefined;
      }, { what: 'the schedule\'s last run' });
      expect(after.lastRun).toMatchObject({ jobId: run.json.id, enqueuedBy: 'schedule:mv-refresh/admin:alice' });
      expect(after.lastSuccessAt).toEqual(expect.any(String));
    } finally {
      await host.close();
    }
    const unknown = await call('POST', '/api/schedules/nope/run', { token });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'unknown_schedule']);
  });

  it('serves an OpenAPI document covering every endpoint and every job payload', async () => {
    const doc = (await call('GET', '/api/openapi.json', { token })).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/jobs/{job}', '/api/jobs/{job}/{id}', '/api/jobs/{job}/{id}/retry', '/api/openapi.json', '/api/queues',
      '/api/queues/{queue}/pause', '/api/queues/{queue}/resume', '/api/runs', '/api/schedules', '/api/schedules/{name}/run',
    ]);
    expect(Object.keys(doc.paths['/api/jobs/{job}/{id}']).sort()).toEqual(['delete', 'get']);
    for (const job of allJobs) expect(doc.components.schemas[`Payload.${job.name}`]).toHaveProperty('type', 'object');
    expect(doc.components.schemas['Payload.mv-refresh'].properties.views.type).toBe('array');
    expect(doc.paths['/api/runs'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['queue', 'state', 'enqueuedBy', 'since', 'until', 'limit', 'before']);
  });
});
