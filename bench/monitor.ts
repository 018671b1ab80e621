// The cost of one database-monitor refresh at 1M inventory rows (quick: 100k): the fleet's
// monitor (one read-only transaction with statement_timeout, every runbook number in one
// statement, plus the BullMQ counts of every queue) versus the runbook's check_system_health
// style — the same numbers as separate raw statements on a plain connection.
import crypto from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { fromEnv } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { connectionConfig, ensureDatabase, quoteIdent, withDatabase, databaseName } from '../shared/db.ts';
import { migrate } from '../shared/migrate.ts';
import { producerConnection } from '../shared/redis.ts';
import { Producer } from '../shared/queues.ts';
import { allJobs } from '../jobs/index.ts';
import { schedulesOf } from '../workers/scheduler.ts';
import { startMonitor } from '../workers/monitor/monitor.ts';
import { SNAPSHOT_SQL } from '../workers/monitor/queries.ts';
import { row, type Bench } from './lib.ts';

/** The runbook's single queries (seed 001 "Quick Diagnostics", "Morning Checklist"), run raw. */
const RUNBOOK_QUERIES = [
  'SELECT pg_size_pretty(pg_database_size(current_database()))',
  'SELECT state, count(*) FROM pg_stat_activity GROUP BY state',
  `SELECT query, now() - query_start AS duration FROM pg_stat_activity WHERE state = 'active' ORDER BY query_start LIMIT 1`,
  'SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()',
  `SELECT count(*) FROM inventory WHERE status = 'low_stock' AND is_active = true`,
  `SELECT count(*) FROM inventory WHERE status = 'out_of_stock' AND is_active = true`,
  `SELECT count(*) FROM admin_tokens WHERE kind = 'session' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
  `SELECT count(*) FROM admin_security_events WHERE kind = 'login_failed'`,
  'SELECT count(*) FROM admin_users WHERE is_active',
];

async function seed(db: pg.Client, rows: number): Promise<void> {
  // 2% low stock, 1% out of stock, 5% inactive: far more reorder lines than a real shop, so the
  // counts are not flattered by an almost empty index.
  await db.query(`
    INSERT INTO inventory (external_id, variant_key, title, category, unit_price, quantity, reserved_quantity, is_active)
    SELECT 'item-' || g, '', 'Item ' || g, 'Components/Miscellaneous', 1.25,
           CASE WHEN g % 100 = 7 THEN 0 WHEN g % 50 = 1 THEN 2 ELSE 20 + g % 40 END, 0, g % 20 <> 0
    FROM generate_series(1, $1) g`, [rows]);
  await db.query(`
    INSERT INTO job_runs (queue, job_id, attempt, name, enqueued_by, state, started_at, finished_at)
    SELECT q, g::text, 1, q, 'schedule:' || q, CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'completed' END::job_run_state,
           now() - g * interval '1 minute', now() - g * interval '1 minute' + interval '2 seconds'
    FROM generate_series(1, 50000) g, unnest(ARRAY['mv-refresh', 'stock-alerts', 'backup-export', 'integrity-repair']) q`);
  // What the audit flush keeps beside those runs (0090).
  await db.query(`INSERT INTO job_queue_last_success (queue, finished_at)
    SELECT queue, max(finished_at) FROM job_runs WHERE state = 'completed' GROUP BY queue`);
  await db.query(`INSERT INTO admin_users (name) SELECT 'admin-' || g FROM generate_series(1, 3) g`);
  await db.query(`
    INSERT INTO admin_security_events (kind, client_address, created_at)
    SELECT CASE WHEN g % 3 = 0 THEN 'login_failed' ELSE 'login_succeeded' END, '10.0.' || (g % 250) || '.1', now() - g * interval '1 minute'
    FROM generate_series(1, 20000) g`);
  await db.query(`
    INSERT INTO backups (kind, object_key, bytes, status, started_at, finished_at, verified_at, restore_duration_ms)
    SELECT 'full', 'b' || g, 1000000, 'completed', now() - g * interval '1 day', now() - g * interval '1 day' + interval '5 minutes',
           CASE WHEN g % 7 = 0 THEN now() - g * interval '1 day' END, 60000
    FROM generate_series(1, 30) g`);
  await db.query('VACUUM ANALYZE');
}

function stats(ms: number[]): { median: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]! };
}

const bench: Bench = async ({ quick }) => {
  const rows = quick ? 100_000 : 1_000_000;
  const rounds = quick ? 20 : 50;
  const base = fromEnv(process.env);
  const dbName = `${databaseName(base.databaseUrl)}_bench_monitor_${crypto.randomBytes(3).toString('hex')}`;
  const url = withDatabase(base.databaseUrl, dbName);
  const config = { ...base, databaseUrl: url, queuePrefix: `benchmon${Date.now().toString(36)}` };
  await ensureDatabase(url);
  const admin = new pg.Client(connectionConfig(withDatabase(base.databaseUrl)));
  await admin.connect();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 50);
  const redis = producerConnection(config.redisUrl);
  const producer = new Producer(new Map(allJobs.map((j) => [j.name, j])), redis, config.queuePrefix);
  const client = new pg.Client(connectionConfig(url));
  try {
    await migrate(url);
    await client.connect();
    let t = performance.now();
    await seed(client, rows);
    const seedMs = performance.now() - t;

    const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
    const monitor = startMonitor({ config, log, producer }, { schedules: schedulesOf(allJobs), intervalMs: 3_600_000 });
    const fleetMs: number[] = [];
    const rawMs: number[] = [];
    try {
      for (let i = 0; i < 3; i++) { await monitor.refresh(); for (const q of RUNBOOK_QUERIES) await client.query(q); } // warm caches
      // Interleaved so both sides see the same cache state and machine load.
      for (let i = 0; i < rounds; i++) {
        t = performance.now();
        if (!(await monitor.refresh())) throw new Error(`monitor refresh failed: ${monitor.status().lastError}`);
        fleetMs.push(performance.now() - t);
        t = performance.now();
        for (const q of RUNBOOK_QUERIES) await client.query(q);
        rawMs.push(performance.now() - t);
      }
    } finally {
      await monitor.stop();
    }
    const plan = await client.query(`EXPLAIN (COSTS OFF) SELECT count(*) FROM inventory WHERE status = 'low_stock' AND is_active`);
    // Server-side cost of the monitor's one statement, without round trips or client time.
    const serverMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const { rows: p } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${SNAPSHOT_SQL}`, [[...new Set(schedulesOf(allJobs).map((s) => s.job))]]);
      serverMs.push((p[0]['QUERY PLAN'] as { 'Execution Time': number }[])[0]!['Execution Time']);
    }
    const f = stats(fleetMs), r = stats(rawMs);
    return [row(`monitor refresh (${rows.toLocaleString('en-US')} inventory rows)`,
      { label: `one refresh, median ${f.median.toFixed(1)} ms`, rate: 1000 / f.median, unit: 'refresh/s', peakRssMb: peakRss / 2 ** 20 },
      { label: `${RUNBOOK_QUERIES.length} raw runbook queries, median ${r.median.toFixed(1)} ms`, rate: 1000 / r.median, unit: 'rounds/s' },
      0.5,
      [`fleet refresh median ${f.median.toFixed(2)} ms, p95 ${f.p95.toFixed(2)} ms over ${rounds} rounds; raw runbook queries median ${r.median.toFixed(2)} ms, p95 ${r.p95.toFixed(2)} ms`,
        `the refresh also reads the BullMQ counts of ${producer.jobNames.length} queue(s), the last success of ${new Set(schedulesOf(allJobs).map((s) => s.job)).size} scheduled queue(s) from 200k job_runs rows, and the latest backup`,
        `server execution time of the monitor's statement: median ${stats(serverMs).median.toFixed(2)} ms (EXPLAIN ANALYZE); the rest is round trips (5 per refresh) and client time`,
        `at the default 15 s interval the monitor spends ${(f.median / 150).toFixed(3)}% of one connection's time`,
        `low-stock count plan: ${plan.rows.map((p: { 'QUERY PLAN': string }) => p['QUERY PLAN'].trim()).join(' / ')}`,
        `seeding ${rows.toLocaleString('en-US')} rows + VACUUM ANALYZE took ${(seedMs / 1000).toFixed(1)} s`])];
  } finally {
    clearInterval(sampler);
    await client.end().catch(() => {});
    await producer.close();
    redis.disconnect();
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
};

export default bench;
