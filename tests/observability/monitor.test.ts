import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { describe, it, expect } from 'vitest';
import { useTestFleet, runJob, waitFor, createTestDatabase } from '../helpers.ts';
import { connectionConfig } from '../../shared/db.ts';
import { createLogger } from '../../shared/logger.ts';
import { startFleet } from '../../workers/fleet.ts';
import { startHttp } from '../../workers/http/server.ts';
import { startMonitor } from '../../workers/monitor/monitor.ts';
import mvRefresh from '../../jobs/mv-refresh/index.ts';
import { scrape, sample } from './scrape.ts';
import { runTool } from './tools.ts';

const fleet = useTestFleet({ MONITOR_INTERVAL_MS: '200' });

const baseUrl = (app: { server: { address(): unknown } }) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

async function seed(db: pg.Pool | pg.Client) {
  await db.query(`
    INSERT INTO inventory (external_id, title, quantity, is_active)
    SELECT 'low-' || g, 'Low ' || g, 2, true FROM generate_series(1, 7) g
    UNION ALL SELECT 'out-' || g, 'Out ' || g, 0, true FROM generate_series(1, 3) g
    UNION ALL SELECT 'inactive-low', 'Retired', 1, false
    UNION ALL SELECT 'in-' || g, 'In ' || g, 50, true FROM generate_series(1, 20) g`);
  await db.query(`INSERT INTO admin_users (name, is_active) VALUES ('ada', true), ('grace', true), ('gone', false)`);
  await db.query(`
    INSERT INTO admin_tokens (admin_user_id, name, token_hash, kind, expires_at, revoked_at)
    SELECT u.id, t.name, md5(t.name), t.kind, now() + t.expires, t.revoked
    FROM (SELECT id FROM admin_users WHERE name = 'ada') u,
         (VALUES ('s1', 'session', interval '1 hour', NULL::timestamptz), ('s2', 'session', interval '1 hour', NULL),
                 ('s3', 'session', interval '2 hours', NULL), ('expired', 'session', interval '-1 minute', NULL),
                 ('revoked', 'session', interval '1 hour', now()), ('api', 'api', interval '1 year', NULL)) t(name, kind, expires, revoked)`);
  await db.query(`
    INSERT INTO admin_security_events (kind, client_address)
    SELECT 'login_failed', '10.0.0.' || g FROM generate_series(1, 4) g UNION ALL SELECT 'login_succeeded', '10.0.0.9'`);
  await db.query(`
    INSERT INTO backups (kind, object_key, bytes, status, started_at, finished_at, verified_at, restore_duration_ms, verify_result)
    VALUES ('full', 'old.dump', 100, 'completed', now() - interval '2 days', now() - interval '2 days', now() - interval '1 day', 42000, '{"ok": true}'),
           ('full', 'new.dump', 12345, 'completed', now() - interval '1 hour', now() - interval '50 minutes', NULL, NULL, NULL),
           ('full', 'failed.dump', NULL, 'failed', now() - interval '10 minutes', now() - interval '9 minutes', NULL, NULL, NULL)`);
  // The images job owns this table (a later migration); this test database gets a minimal
  // stand-in so the monitor's catalog-checked read of the latest scan is exercised.
  await db.query(`DROP TABLE IF EXISTS image_orphan_scans CASCADE`);
  await db.query(`CREATE TABLE image_orphan_scans (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, finished_at timestamptz, orphaned int)`);
  await db.query(`INSERT INTO image_orphan_scans (finished_at, orphaned) VALUES (now() - interval '8 days', 9), (now() - interval '1 day', 2)`);
}

describe('database monitor', () => {
  it('exports every runbook metric with live values on /metrics, refreshed on its interval', async () => {
    await seed(fleet.db);
    // Three rolled-back transactions on a connection of their own, closed so its stats are flushed.
    const other = new pg.Client(connectionConfig(fleet.config.databaseUrl));
    await other.connect();
    for (let i = 0; i < 3; i++) await other.query('BEGIN').then(() => other.query('ROLLBACK'));
    await other.end();

    const app = await startFleet({ run: [mvRefresh], monitor: true, config: fleet.config, log: createLogger('silent') });
    const sleeper = new pg.Client(connectionConfig(fleet.config.databaseUrl));
    try {
      expect((await runJob(fleet, 'mv-refresh', {})).state).toBe('completed');
      await fleet.services.producer.enqueue('mv-refresh', {}, { delay: 600_000 });
      await sleeper.connect();
      const sleeping = sleeper.query('SELECT pg_sleep(2.5)');
      const url = baseUrl(app.http);
      // The audit row is written asynchronously; the monitor picks it up on a later refresh.
      const s = await waitFor(async () => {
        const got = await scrape(url);
        const ok = sample(got, 'fleet_job_last_success_timestamp_seconds', { queue: 'mv-refresh' }) > 0
          && sample(got, 'fleet_db_longest_query_seconds') >= 1
          && sample(got, 'bullmq_job_count', { queue: 'mv-refresh', state: 'delayed' }) === 1;
        return ok ? got : undefined;
      }, { what: 'fresh monitor values' });
      await sleeping;

      const now = Date.now() / 1000;
      expect(sample(s, 'fleet_db_size_bytes')).toBeGreaterThan(1_000_000);
      expect(sample(s, 'fleet_db_connections', { state: 'active' })).toBeGreaterThanOrEqual(1);
      expect(sample(s, 'fleet_db_connections', { state: 'idle_in_transaction' })).toBeGreaterThanOrEqual(0);
      expect(sample(s, 'fleet_db_longest_query_seconds')).toBeLessThan(60);
      expect(sample(s, 'fleet_db_rollbacks_total')).toBeGreaterThanOrEqual(3);
      expect(sample(s, 'fleet_inventory_low_stock_items')).toBe(7);
      expect(sample(s, 'fleet_inventory_out_of_stock_items')).toBe(3);
      expect(sample(s, 'fleet_admin_sessions_active')).toBe(3);
      expect(sample(s, 'fleet_admin_failed_logins_total')).toBe(4);
      expect(sample(s, 'fleet_admin_users')).toBe(2);
      expect(sample(s, 'fleet_images_orphaned')).toBe(2);
      expect(sample(s, 'bullmq_job_count', { queue: 'mv-refresh', state: 'completed' })).toBeGreaterThanOrEqual(1);
      expect(sample(s, 'bullmq_job_count', { queue: 'mv-refresh', state: 'failed' })).toBe(0);
      expect(sample(s, 'fleet_job_last_success_timestamp_seconds', { queue: 'mv-refresh' })).toBeGreaterThan(now - 60);
      expect(sample(s, 'fleet_job_schedule_interval_seconds', { queue: 'mv-refresh' })).toBe(600);
      expect(Math.abs(sample(s, 'fleet_backup_last_success_timestamp_seconds') - (now - 50 * 60))).toBeLessThan(120);
      expect(Math.abs(sample(s, 'fleet_backup_last_verified_timestamp_seconds') - (now - 24 * 3600))).toBeLessThan(120);
      expect(sample(s, 'fleet_backup_size_bytes')).toBe(12345);
      expect(sample(s, 'fleet_backup_restore_duration_seconds')).toBe(42);
      expect(sample(s, 'fleet_monitor_last_success_timestamp_seconds')).toBeGreaterThan(now - 10);
      expect(sample(s, 'fleet_monitor_errors_total', { source: 'database' })).toBe(0);
      expect(sample(s, 'fleet_monitor_errors_total', { source: 'redis' })).toBe(0);
      expect(sample(s, 'fleet_jobs_total', { queue: 'mv-refresh', status: 'completed' })).toBeGreaterThanOrEqual(1);
      expect(sample(s, 'fleet_job_duration_seconds_count', { queue: 'mv-refresh' })).toBeGreaterThanOrEqual(1);

      // A new failed login shows up on a later refresh, without anyone scraping in between.
      await fleet.db.query(`INSERT INTO admin_security_events (kind) VALUES ('login_failed')`);
      await waitFor(async () => sample(await scrape(url), 'fleet_admin_failed_logins_total') === 5, { what: 'the fifth failed login' });

      const health = await (await fetch(`${url}/healthz`)).json() as { status: string; monitor: { state: string; lastSuccessAt: string } };
      expect(health.status).toBe('ok');
      expect(health.monitor.state).toBe('ok');
      expect(Date.parse(health.monitor.lastSuccessAt)).toBeGreaterThan(Date.now() - 10_000);
    } finally {
      await sleeper.end().catch(() => {});
      await app.stop();
    }
  });

  it('withdraws its numbers and says so when the database goes away', async () => {
    const scratch = await createTestDatabase('fleet_mon');
    const log = createLogger('silent');
    const monitor = startMonitor({ ...fleet.services, log, config: { ...fleet.config, databaseUrl: scratch.url } }, { intervalMs: 3_600_000, timeoutMs: 2_000 });
    const http = await startHttp(fleet.services, [], 0, monitor);
    const url = baseUrl(http);
    try {
      expect(await monitor.refresh()).toBe(true);
      const before = await scrape(url);
      const lastSuccess = sample(before, 'fleet_monitor_last_success_timestamp_seconds');
      const errors = sample(before, 'fleet_monitor_errors_total', { source: 'database' });
      expect(sample(before, 'fleet_admin_users')).toBe(0);
      expect(sample(before, 'fleet_db_connections', { state: 'active' })).toBeGreaterThanOrEqual(1);

      await scratch.drop(); // terminates the monitor's connection too
      expect(await monitor.refresh()).toBe(false);
      const after = await scrape(url);
      expect(sample(after, 'fleet_monitor_errors_total', { source: 'database' })).toBe(errors + 1);
      expect(sample(after, 'fleet_monitor_errors_total', { source: 'redis' })).toBe(0);
      expect(sample(after, 'fleet_monitor_last_success_timestamp_seconds')).toBe(lastSuccess);
      // Not a stale 0 that would read as "no admin users": unknown.
      for (const name of ['fleet_admin_users', 'fleet_db_size_bytes', 'fleet_inventory_low_stock_items', 'fleet_admin_sessions_active', 'fleet_db_longest_query_seconds']) {
        expect(sample(after, name), name).toBeNaN();
      }
      expect(after.filter((x) => x.name === 'fleet_db_connections')).toEqual([]);
      expect(after.filter((x) => x.name === 'fleet_job_last_success_timestamp_seconds')).toEqual([]);
      // Prometheus's own parser reads the scrape, NaN included (lint remarks such as the
      // issue-mandated name bullmq_job_count exit 3; a parse error would exit 1).
      const lint = await runTool('promtool', ['check', 'metrics'], { input: await (await fetch(`${url}/metrics`)).text() });
      expect([0, 3], lint.output).toContain(lint.status);
      expect(lint.output).not.toMatch(/error while linting|parse/i);
      // Redis still answers, so the queue counts stay.
      expect(sample(after, 'bullmq_job_count', { queue: 'mv-refresh', state: 'failed' })).toBe(0);

      const res = await fetch(`${url}/healthz`);
      const health = await res.json() as { status: string; monitor: { state: string; lastError: string; consecutiveFailures: number; lastSuccessAt: string } };
      expect(res.status).toBe(200); // the process's own database is fine
      expect(health.monitor).toMatchObject({ state: 'failing', consecutiveFailures: 1 });
      expect(health.monitor.lastError).toMatch(/^database: /);
      expect(Date.parse(health.monitor.lastSuccessAt) / 1000).toBeCloseTo(lastSuccess, 0);
    } finally {
      await monitor.stop();
      await http.close();
      await scratch.drop();
    }
  });

  it('reports an unreachable database server (closed port) the same way', async () => {
    const closed = new URL(fleet.config.databaseUrl);
    closed.port = '1';
    const monitor = startMonitor({ ...fleet.services, config: { ...fleet.config, databaseUrl: closed.toString() } }, { intervalMs: 3_600_000 });
    try {
      expect(await monitor.refresh()).toBe(false);
      const st = monitor.status();
      expect(st.state).toBe('failing');
      expect(st.lastSuccessAt).toBeNull();
      expect(st.lastError).toMatch(/database: .*ECONNREFUSED/);
    } finally {
      await monitor.stop();
    }
  });
});
