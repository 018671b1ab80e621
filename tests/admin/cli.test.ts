import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { useTestFleet, waitFor } from '../helpers.ts';
import { runCli } from '../../cli/main.ts';
import { startHttp } from '../../workers/http/server.ts';
import { httpPlugins } from '../../workers/http/plugins.ts';
import { reconcileSchedules, schedulesOf } from '../../workers/scheduler.ts';
import { allJobs } from '../../jobs/index.ts';
import mvRefresh from '../../jobs/mv-refresh/index.ts';

const fleet = useTestFleet();
let app: FastifyInstance;
let remote: string;

async function cli(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), isTTY: false, env: { ...fleet.env, ...env } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  app = await startHttp(fleet.services, httpPlugins);
  const addr = app.server.address();
  remote = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  await reconcileSchedules(fleet.services, schedulesOf(allJobs));
});
afterAll(async () => {
  await app?.close();
});

describe('fleet admin', () => {
  it('creates a token once (and the admin with it), lists it, and revokes it', async () => {
    const created = await cli(['admin', 'create-token', '--name', 'erin', '--label', 'erin-ci', '--expires-days', '30']);
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^fleet_[\w-]{43}$/);
    expect(created.err).toMatch(/token \d+ "erin-ci" for admin erin, expires /);
    const { rows } = await fleet.db.query(`SELECT u.name, t.token_hash FROM admin_tokens t JOIN admin_users u ON u.id = t.admin_user_id WHERE t.name = 'erin-ci'`);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).not.toContain(created.out);
    const listed = await cli(['admin', 'list-tokens']);
    expect(listed.out).toMatch(/erin\s+erin-ci\s+.*active/);
    expect(listed.out).not.toContain(created.out);
    expect((await cli(['admin', 'revoke-token', 'erin-ci'])).out).toMatch(/^revoked token \d+ "erin-ci"$/);
    expect((await cli(['admin', 'revoke-token', 'erin-ci'])).code).toBe(1);
    expect((await cli(['admin', 'create-token'])).code).toBe(2);
    expect((await cli(['admin', 'create-token', '--name', 'x', '--label', '42'])).code).toBe(2);
  });
});

describe('fleet schedules', () => {
  it('lists each schedule with its next run and last result, and runs one now', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const before = await cli(['schedules']);
      expect(before.code).toBe(0);
      expect(before.out).toMatch(/^schedule\s+job\s+cron\s+next run\s+last result/);
      expect(before.out).toMatch(/mv-refresh\s+mv-refresh\s+\*\/10 \* \* \* \* UTC\s+\d{4}-\d\d-\d\dT\d\d:\d0:00Z\s+never run/);
      const run = await cli(['schedules', 'run', 'mv-refresh']);
      expect(JSON.parse(run.out)).toMatchObject({ schedule: 'mv-refresh', job: 'mv-refresh' });
      await waitFor(async () => /completed \d{4}/.test((await cli(['schedules'])).out), { what: 'the last result to show' });
      const json = JSON.parse((await cli(['schedules', '--json'])).out);
      expect(json.find((s: { name: string }) => s.name === 'mv-refresh').lastRun).toMatchObject({ state: 'completed', enqueuedBy: 'schedule:mv-refresh/cli' });
    } finally {
      await host.close();
    }
    const unknown = await cli(['schedules', 'run', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/Unknown schedule "nope". Schedules: .*mv-refresh/);
  });
});

describe('fleet --remote', () => {
  it('enqueues over the API as the token\'s admin and waits for the result by polling', async () => {
    const token = (await cli(['admin', 'create-token', '--name', 'frank'])).out;
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const res = await cli(['enqueue', 'mv-refresh', '--data', '{"views":["low_stock_report"]}', '--wait', '--remote', remote], { FLEET_TOKEN: token });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.out.split('\n').at(-1)!)).toMatchObject({ refreshed: [expect.objectContaining({ view: 'low_stock_report' })] });
      const failed = await cli(['enqueue', 'mv-refresh', '--data', '{"views":["nope"]}', '--wait'], { FLEET_REMOTE_URL: remote, FLEET_TOKEN: token });
      expect(failed.code).toBe(1);
      expect(failed.err).toMatch(/mv-refresh job \S+ failed: Unknown materialized view: nope/);
    } finally {
      await host.close();
    }
    const { rows } = await fleet.db.query(`SELECT DISTINCT enqueued_by FROM job_runs WHERE enqueued_by LIKE 'admin:%'`);
    expect(rows).toEqual([{ enqueued_by: 'admin:frank' }]);

    // Refused input exits 2 over the API as it does locally; nothing was enqueued.
    const invalid = await cli(['enqueue', 'mv-refresh', '--data', '{"views":"all"}', '--remote', remote, '--token', token]);
    expect(invalid.code).toBe(2);
    expect(invalid.err).toMatch(/Invalid payload for mv-refresh: views: .*\n\s+- payload.views: /);
    expect((await cli(['enqueue', 'mv-refresh', '--data', '{"views":"all"}'])).code).toBe(2);
    const unknownJob = await cli(['enqueue', 'no-such-job', '--remote', remote, '--token', token]);
    expect(unknownJob.code).toBe(2);
    expect(unknownJob.err).toMatch(/no-such-job/);
    const noWait = await cli(['enqueue', 'mv-refresh', '--remote', remote, '--token', token]);
    expect(JSON.parse(noWait.out)).toEqual({ job: 'mv-refresh', id: expect.any(String) });
  });

  it('shows status over the API, and refuses a bad or missing token clearly', async () => {
    const token = (await cli(['admin', 'create-token', '--name', 'gina'])).out;
    const status = await cli(['status', '--remote', remote], { FLEET_TOKEN: token });
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^queue\s+waiting\s+active/);
    expect(status.out).toMatch(/\nmv-refresh(\s+\d+){5}\s+\d{4}-/);
    const schedules = await cli(['schedules', '--remote', remote], { FLEET_TOKEN: token });
    expect(schedules.out).toMatch(/mv-refresh\s+mv-refresh\s+\*\/10/);
    const wrong = await cli(['status', '--remote', remote, '--token', 'fleet_wrong']);
    expect([wrong.code, wrong.err]).toEqual([1, 'fleet status: Token not accepted']);
    expect((await cli(['status', '--remote', remote])).err).toMatch(/--remote needs a token/);
    expect((await cli(['status', '--remote', 'ftp://x', '--token', 't'])).code).toBe(2);
    expect((await cli(['status', '--remote', 'http://127.0.0.2:1', '--token', 't'])).err).toMatch(/warning: sending an admin token over plain http/);
  });
});
