import type { FastifyInstance } from 'fastify';
import type { TestFleet } from '../helpers.ts';

/** A fetch against the test server that returns status, headers and parsed JSON (or text). */
export function client(app: () => FastifyInstance) {
  const base = () => {
    const addr = app().server.address();
    if (!addr || typeof addr === 'string') throw new Error('server not listening');
    return `http://127.0.0.1:${addr.port}`;
  };
  return {
    base,
    async call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] = 'application/json';
      } else if (opts.raw !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${base()}${path}`, { method, headers, body, redirect: 'manual' });
      const text = await res.text();
      let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test assertions walk the body freely
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      return { status: res.status, headers: res.headers, json, text };
    },
  };
}

/** Security events of a kind, oldest first. */
export async function securityEvents(fleet: TestFleet, kind: string) {
  const { rows } = await fleet.db.query<{ kind: string; client_address: string | null; detail: Record<string, unknown> | null; admin_user_id: number | null }>(
    'SELECT kind, client_address, detail, admin_user_id FROM admin_security_events WHERE kind = $1 ORDER BY id', [kind]);
  return rows;
}
