import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { useTestFleet } from '../helpers.ts';
import { startHttp } from '../../workers/http/server.ts';
import { httpPlugins } from '../../workers/http/plugins.ts';
import { createApiToken } from '../../workers/http/admin/tokens.ts';

// No lockout here: several rows are failed logins, and a 429 would hide what each one answers.
const KICKS_KEY = 'kicks-Secret-Key-0c41';
const fleet = useTestFleet({ ADMIN_LOCKOUT_ATTEMPTS: '1000', KICKSDB_API_KEY: KICKS_KEY });
let app: FastifyInstance;
let token: string;

beforeAll(async () => {
  app = await startHttp(fleet.services, httpPlugins);
  token = (await createApiToken(fleet.db, { admin: 'alice' })).token;
});
afterAll(async () => {
  await app?.close();
});

/** A value riding in some bodies: no answer may repeat it. */
const SECRET = 'sk-live-Secret-9d27f1';
const WRONG_TOKEN = 'fleet_wrong-Secret-4b1a';

type Auth = 'token' | 'none' | { header: string };
interface Case {
  why: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  auth?: Auth; // default: the valid token
  contentType?: string;
  /** A body sent whole, or `{ stream }`: that many bytes sent chunked and the request never ended. */
  body?: string | Buffer | { stream: number };
  status: number;
  code: string;
  message: RegExp;
  /** The field the error must name (details[].path and the message). */
  field?: string;
  /** login_failed rows the refusal is expected to write (failed logins are audited); 0 otherwise. */
  failedLogins?: number;
  maxMs?: number;
}

const enc = encodeURIComponent;
const json = 'application/json';
const nested = (depth: number, inner = '') => '['.repeat(depth) + inner + ']'.repeat(depth);
// UTF-16LE with a BOM, labelled as such: the API reads JSON as UTF-8 only (RFC 8259).
const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"payload":{}}', 'utf16le')]);

const cases: Case[] = [
  // Credentials
  { why: 'no Authorization header', method: 'GET', path: '/api/queues', auth: 'none', status: 401, code: 'unauthorized', message: /^Missing bearer token \(Authorization: Bearer <token>\)$/ },
  { why: 'a wrong token', method: 'GET', path: '/api/queues', auth: { header: `Bearer ${WRONG_TOKEN}` }, status: 401, code: 'unauthorized', message: /^Token not accepted$/, failedLogins: 1 },
  { why: 'Basic instead of Bearer', method: 'GET', path: '/api/queues', auth: { header: `Basic ${Buffer.from(`alice:${SECRET}`).toString('base64')}` }, status: 401, code: 'unauthorized', message: /Missing bearer token/ },
  { why: '"Bearer" with no token', method: 'GET', path: '/api/queues', auth: { header: 'Bearer' }, status: 401, code: 'unauthorized', message: /Missing bearer token/ },
  { why: 'two tokens in one header', method: 'GET', path: '/api/queues', auth: { header: `Bearer ${WRONG_TOKEN} ${SECRET}` }, status: 401, code: 'unauthorized', message: /Missing bearer token/ },
  { why: 'a 10 KB token', method: 'GET', path: '/api/queues', auth: { header: `Bearer ${SECRET}${'x'.repeat(10_000)}` }, status: 401, code: 'unauthorized', message: /^Token not accepted$/, failedLogins: 1 },
  { why: 'a wrong token on a refused enqueue (auth before body)', method: 'POST', path: '/api/jobs/mv-refresh', auth: { header: `Bearer ${WRONG_TOKEN}` }, contentType: json, body: '{"payload":{}}', status: 401, code: 'unauthorized', message: /^Token not accepted$/, failedLogins: 1 },

  // Job names in the path
  { why: 'unknown job', method: 'POST', path: '/api/jobs/nope', contentType: json, body: '{}', status: 404, code: 'unknown_job', message: /^Unknown job "nope"\. Valid jobs: .*mv-refresh/ },
  { why: 'job "../../etc/passwd" (encoded)', method: 'POST', path: `/api/jobs/${enc('../../etc/passwd')}`, contentType: json, body: '{}', status: 404, code: 'unknown_job', message: /^Unknown job "\.\.\/\.\.\/etc\/passwd"\./ },
  { why: 'job "../../etc/passwd" (raw path)', method: 'POST', path: '/api/jobs/../../etc/passwd', contentType: json, body: '{}', status: 404, code: 'not_found', message: /^No route POST / },
  { why: 'job "mv-refresh%00"', method: 'POST', path: '/api/jobs/mv-refresh%00', contentType: json, body: '{}', status: 404, code: 'unknown_job', message: /^Unknown job "mv-refresh\\u0000"\./ },
  { why: 'job "\'; DROP TABLE job_runs;--"', method: 'POST', path: `/api/jobs/${enc("'; DROP TABLE job_runs;--")}`, contentType: json, body: '{}', status: 404, code: 'unknown_job', message: /^Unknown job "'; DROP TABLE job_runs;--"\./ },
  { why: 'job name of 5,000 characters', method: 'POST', path: `/api/jobs/${'a'.repeat(5_000)}`, contentType: json, body: '{}', status: 400, code: 'invalid_request', message: /params\.job: Too big/, field: 'params.job' },
  { why: 'job name with a newline and a terminal escape', method: 'POST', path: `/api/jobs/${enc('x\n\u001b[2Jmv-refresh')}`, contentType: json, body: '{}', status: 404, code: 'unknown_job', message: /^Unknown job "x\\n\\u001b\[2Jmv-refresh"\. Valid jobs: [^\n]*$/ },
  { why: 'unknown queue "../" on pause', method: 'POST', path: `/api/queues/${enc('../')}/pause`, status: 404, code: 'unknown_job', message: /^Unknown job "\.\.\/"/ },
  { why: 'retry in an unknown queue', method: 'POST', path: '/api/jobs/nope/1/retry', status: 404, code: 'unknown_job', message: /^Unknown job "nope"/ },
  { why: 'schedule name of 100 characters', method: 'POST', path: `/api/schedules/${'s'.repeat(100)}/run`, status: 400, code: 'invalid_request', message: /params\.name: Too big/, field: 'params.name' },

  // Bodies
  { why: 'payload of the wrong type', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"payload":"all"}', status: 400, code: 'invalid_payload', message: /^Invalid payload for mv-refresh: \(root\): Invalid input: expected object, received string$/, field: 'payload' },
  { why: 'payload field of the wrong type', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"payload":{"views":"all"}}', status: 400, code: 'invalid_payload', message: /views: Invalid input: expected array, received string/, field: 'payload.views' },
  { why: 'payload with a secret-named key', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: JSON.stringify({ payload: { views: ['low_stock_report'], apiKey: SECRET } }), status: 400, code: 'invalid_payload', message: /Unrecognized key: "apiKey"/, field: 'payload' },
  { why: 'envelope field of the wrong type', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"delayMs":"10"}', status: 400, code: 'invalid_request', message: /body\.delayMs: Invalid input: expected number, received string/, field: 'body.delayMs' },
  { why: 'unknown envelope field', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"paylaod":{}}', status: 400, code: 'invalid_request', message: /body: Unrecognized key: "paylaod"/, field: 'body' },
  { why: 'body is a JSON array', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '[{"payload":{}}]', status: 400, code: 'invalid_request', message: /body: Invalid input: expected object, received array/, field: 'body' },
  { why: 'body is not JSON', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: 'views=all', status: 400, code: 'invalid_json', message: /^Request body is not valid JSON/ },
  { why: 'empty JSON body', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '', status: 400, code: 'invalid_json', message: /^Request body is not valid JSON.*empty/ },
  { why: 'truncated JSON holding a secret', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: `{"payload":{"password":"${SECRET}"`, status: 400, code: 'invalid_json', message: /^Request body is not valid JSON/ },
  { why: 'a __proto__ key', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"payload":{},"__proto__":{"isAdmin":true}}', status: 400, code: 'invalid_json', message: /^Request body is not valid JSON/ },
  { why: '5 MB JSON body', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: JSON.stringify({ payload: { views: ['x'.repeat(5 * 1024 * 1024)] } }), status: 413, code: 'payload_too_large', message: /^Request body is too large$/, maxMs: 5_000 },
  { why: '300 KB streamed and never finished (answered without waiting for the end)', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: { stream: 300 * 1024 }, status: 413, code: 'payload_too_large', message: /^Request body is too large$/ },
  { why: '100,000 unclosed [', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '['.repeat(100_000), status: 400, code: 'invalid_json', message: /^Request body is not valid JSON/ },
  { why: 'payload nested 100,000 levels deep', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: `{"payload":${nested(100_000)}}`, status: 400, code: 'invalid_payload', message: /\(root\): Invalid input: expected object, received array/, field: 'payload' },

  // Unicode, NUL, lone surrogates
  { why: 'jobId with NUL', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"jobId":"a\\u0000b"}', status: 400, code: 'invalid_request', message: /body\.jobId: letters, digits/, field: 'body.jobId' },
  { why: 'jobId with a lone surrogate', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"jobId":"a\\ud800"}', status: 400, code: 'invalid_request', message: /body\.jobId: letters, digits/, field: 'body.jobId' },
  { why: 'jobId with emoji and right-to-left override', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: JSON.stringify({ jobId: 'job-🧨\u202e' }), status: 400, code: 'invalid_request', message: /body\.jobId: letters, digits/, field: 'body.jobId' },
  { why: 'jobId with "../"', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"jobId":"../../x"}', status: 400, code: 'invalid_request', message: /body\.jobId: letters, digits/, field: 'body.jobId' },
  { why: 'invalid UTF-8 bytes in a key', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), status: 400, code: 'invalid_request', message: /body: Unrecognized key/, field: 'body' },

  // Content-type lies
  { why: 'JSON sent as text/plain', method: 'POST', path: '/api/jobs/mv-refresh', contentType: 'text/plain', body: '{"payload":{}}', status: 415, code: 'unsupported_media_type', message: /^Send JSON \(content-type: application\/json\)$/ },
  { why: 'a form body', method: 'POST', path: '/api/jobs/mv-refresh', contentType: 'application/x-www-form-urlencoded', body: 'payload=%7B%7D', status: 415, code: 'unsupported_media_type', message: /^Send JSON/ },
  { why: 'a body with no content-type', method: 'POST', path: '/api/jobs/mv-refresh', body: '{"payload":{}}', status: 415, code: 'unsupported_media_type', message: /^Send JSON/ },
  { why: 'XML', method: 'POST', path: '/api/jobs/mv-refresh', contentType: 'application/xml', body: '<payload/>', status: 415, code: 'unsupported_media_type', message: /^Send JSON/ },
  { why: 'UTF-16 JSON labelled charset=utf-16', method: 'POST', path: '/api/jobs/mv-refresh', contentType: 'application/json; charset=utf-16', body: utf16, status: 400, code: 'invalid_json', message: /^Request body is not valid JSON/ },

  // GET /api/runs query parameters
  { why: 'limit=-1', method: 'GET', path: '/api/runs?limit=-1', status: 400, code: 'invalid_request', message: /query\.limit: Too small/, field: 'query.limit' },
  { why: 'limit=1e9', method: 'GET', path: '/api/runs?limit=1e9', status: 400, code: 'invalid_request', message: /query\.limit: Too big/, field: 'query.limit' },
  { why: 'limit given twice', method: 'GET', path: '/api/runs?limit=1&limit=2', status: 400, code: 'invalid_request', message: /query\.limit/, field: 'query.limit' },
  { why: 'since=not-a-date', method: 'GET', path: '/api/runs?since=not-a-date', status: 400, code: 'invalid_request', message: /query\.since: Invalid ISO datetime/, field: 'query.since' },
  { why: 'since in year 0000 (PostgreSQL has none)', method: 'GET', path: '/api/runs?since=0000-01-01T00:00:00Z', status: 400, code: 'invalid_request', message: /query\.since: year 0000/, field: 'query.since' },
  { why: 'until=February 30th', method: 'GET', path: '/api/runs?until=2024-02-30T00:00:00Z', status: 400, code: 'invalid_request', message: /query\.until: Invalid ISO datetime/, field: 'query.until' },
  { why: 'state=bogus', method: 'GET', path: '/api/runs?state=bogus', status: 400, code: 'invalid_request', message: /query\.state: Invalid option: expected one of "active"\|"completed"\|"failed"\|"retrying"/, field: 'query.state' },
  { why: 'before=abc', method: 'GET', path: '/api/runs?before=abc', status: 400, code: 'invalid_request', message: /query\.before: .*expected number/, field: 'query.before' },
  { why: 'before past 2^53', method: 'GET', path: '/api/runs?before=99999999999999999999999', status: 400, code: 'invalid_request', message: /query\.before: Too big/, field: 'query.before' },
  { why: 'queue with NUL (PostgreSQL refuses it)', method: 'GET', path: '/api/runs?queue=mv-refresh%00', status: 400, code: 'invalid_request', message: /query\.queue: must not contain NUL/, field: 'query.queue' },
  { why: 'enqueuedBy with NUL', method: 'GET', path: '/api/runs?enqueuedBy=admin%3Aalice%00', status: 400, code: 'invalid_request', message: /query\.enqueuedBy: must not contain NUL/, field: 'query.enqueuedBy' },
  { why: 'unknown parameter', method: 'GET', path: '/api/runs?stat=failed', status: 400, code: 'invalid_request', message: /query: Unrecognized key: "stat"/, field: 'query' },

  // GET/DELETE /api/jobs/:job/:id
  { why: 'id "../../etc" (encoded)', method: 'GET', path: `/api/jobs/mv-refresh/${enc('../../etc')}`, status: 404, code: 'not_found', message: /^No job \.\.\/\.\.\/etc in queue mv-refresh$/ },
  { why: 'id of 5,000 digits', method: 'GET', path: `/api/jobs/mv-refresh/${'9'.repeat(5_000)}`, status: 400, code: 'invalid_request', message: /params\.id: Too big/, field: 'params.id' },
  { why: 'DELETE with an id of 300 characters', method: 'DELETE', path: `/api/jobs/mv-refresh/${'x'.repeat(300)}`, status: 400, code: 'invalid_request', message: /params\.id: Too big/, field: 'params.id' },
  { why: 'id with broken percent-encoding', method: 'GET', path: '/api/jobs/mv-refresh/%E0%A4%A', status: 400, code: 'invalid_url', message: /^The URL is not valid/ },
];

interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string; ms: number }

/** One request over a plain socket (fetch would refuse some of these headers and bodies). */
function send(c: Case): Promise<Answer> {
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('server not listening');
  const headers: Record<string, string> = {};
  const auth = c.auth ?? 'token';
  if (auth === 'token') headers.authorization = `Bearer ${token}`;
  else if (auth !== 'none') headers.authorization = auth.header;
  if (c.contentType) headers['content-type'] = c.contentType;
  const stream = typeof c.body === 'object' && !Buffer.isBuffer(c.body) ? c.body.stream : undefined;
  if (stream !== undefined) headers['transfer-encoding'] = 'chunked';
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port: addr.port, method: c.method, path: c.path, headers }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        resolve({ status: res.statusCode!, headers: res.headers, text, ms: Date.now() - started });
        req.destroy();
      });
    });
    // After an early answer the server may drop the rest of an upload; that is not a failure.
    req.on('error', (err) => { if (!answered) reject(err); });
    if (stream !== undefined) {
      // Writes the bytes and then waits, never ending the request: only an answer that does
      // not wait for the end of the body settles this.
      void (async () => {
        const chunk = Buffer.alloc(16 * 1024, 'x');
        for (let sent = 0; sent < stream && !answered && !req.destroyed; sent += chunk.length) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
      })();
    } else if (typeof c.body === 'string' || Buffer.isBuffer(c.body)) {
      req.end(c.body);
    } else {
      req.end();
    }
  });
}

/** What a refused request must not change: queue contents, job_runs and the admin tables. */
async function snapshot() {
  const { rows } = await fleet.db.query<{ job_runs: number; admin_users: number; admin_tokens: number; other_security_events: number; login_failed: number }>(
    `SELECT (SELECT count(*) FROM job_runs)::int AS job_runs,
            (SELECT count(*) FROM admin_users)::int AS admin_users,
            (SELECT count(*) FROM admin_tokens)::int AS admin_tokens,
            (SELECT count(*) FROM admin_security_events WHERE kind <> 'login_failed')::int AS other_security_events,
            (SELECT count(*) FROM admin_security_events WHERE kind = 'login_failed')::int AS login_failed`);
  const { producer } = fleet.services;
  const queues = Object.fromEntries(await Promise.all(producer.jobNames.map(async (name) => {
    const q = producer.queue(name);
    return [name, { counts: await q.getJobCounts(), paused: await q.isPaused() }] as const;
  })));
  return { ...rows[0]!, queues };
}

/** Every way the answer could leak a credential or a secret from the request or the config. */
function secretsIn(a: Answer, c: Case): string[] {
  const text = `${a.text}\n${JSON.stringify(a.headers)}`;
  const sent = typeof c.auth === 'object' ? c.auth.header.split(/\s+/).slice(1).filter((s) => s.length >= 8) : [];
  return [token, WRONG_TOKEN, SECRET, KICKS_KEY, ...sent].filter((s) => text.includes(s));
}

describe('bad requests to the admin API', () => {
  it('covers at least the catalogue the issue asks for', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
    expect(new Set(cases.map((c) => c.why)).size).toBe(cases.length); // labels are unique
  });

  it.each(cases)('$method $why → $status $code', async (c) => {
    const before = await snapshot();
    const a = await send(c);

    // A 4xx with the API's one error shape, saying what is wrong — never a 500.
    expect(a.status, a.text.slice(0, 300)).toBe(c.status);
    expect(a.status).toBeGreaterThanOrEqual(400);
    expect(a.status).toBeLessThan(500);
    expect(a.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(a.text) as { error: { code: string; message: string; details?: { path: string; message: string }[] } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code).toBe(c.code);
    expect(body.error.message).toMatch(c.message);
    expect(body.error.message.length).toBeLessThan(1_000); // bounded, however big the input
    if (c.field) {
      expect(body.error.details?.map((d) => d.path)).toContain(c.field);
      expect(body.error.message).toContain(c.code === 'invalid_payload' ? c.field.replace(/^payload\.?/, '') : c.field);
    }
    expect(a.ms).toBeLessThan(c.maxMs ?? 2_000);

    // Nothing enqueued, nothing written (a failed login is audited: exactly that row).
    const after = await snapshot();
    expect(after).toEqual({ ...before, login_failed: before.login_failed + (c.failedLogins ?? 0) });

    expect(secretsIn(a, c)).toEqual([]);
  });

  it('the checks can see a change: a good request enqueues', async () => {
    const before = await snapshot();
    const ok = await send({ why: 'good', method: 'POST', path: '/api/jobs/mv-refresh', contentType: json, body: '{"payload":{}}', status: 202, code: '', message: /./ });
    expect(ok.status).toBe(202);
    const { id } = JSON.parse(ok.text) as { id: string };
    const mid = await snapshot();
    expect(mid.queues['mv-refresh']!.counts.waiting).toBe(before.queues['mv-refresh']!.counts.waiting! + 1);
    await fleet.services.producer.queue('mv-refresh').remove(id);
    expect(await snapshot()).toEqual(before);
  });
});
