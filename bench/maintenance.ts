// stock-alerts and each integrity check at 1M inventory rows (50k with BENCH_QUICK=1), each
// beside the runbook's hand-run SQL for the same job, while a concurrent updater (single-row
// updates with lock_timeout 1 s, half of them on rows the phase repairs) counts updates
// blocked over 1 s and records the worst latency. Targets (issue 6): stock-alerts < 2 s,
// each check < 5 s, no update blocked > 1 s. Checks also report longestBatchMs: the
// longest time one of their transactions held row locks.
//
// Columns: rate = inventory rows / second of the run (so ratio = baseline time / fleet
// time); the target ratio is baseline time / target time, so "ok" means "under the target
// time". Baselines run in a transaction that is rolled back, so the faults stay for the fleet.
import { QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { fromEnv } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createServices, type Services } from '../shared/services.ts';
import { startHost } from '../shared/host.ts';
import { createPool, ensureDatabase, withDatabase, databaseName, quoteIdent } from '../shared/db.ts';
import { migrate } from '../shared/migrate.ts';
import type { AnyJob } from '../shared/job.ts';
import { workerConnection } from '../shared/redis.ts';
import stockAlerts from '../jobs/stock-alerts/index.ts';
import integrityRepair from '../jobs/integrity-repair/index.ts';
import { checks } from '../jobs/integrity-repair/checks/index.ts';
import { LIFECYCLE_SQL, PENDING_SQL } from '../jobs/stock-alerts/queries.ts';
import { startWebhookReceiver } from './support/webhook-receiver.ts';
import { seedMaintenance } from './maintenance-seed.ts';
import { startUpdater, withPeakRss, planScans, timeRolledBack, type Updater } from './maintenance-probe.ts';
import { row, type Bench, type BenchRow } from './lib.ts';

const RULE = 'inventory_status_for(quantity, reserved_quantity, low_stock_threshold)';
const CHECKLIST = [
  // Runbook (seed 001) morning checklist, "Inventory Alerts", plus update_inventory_status().
  `SELECT title, available_quantity, store_name FROM inventory WHERE status = 'low_stock' AND is_active = true`,
  `SELECT title, quantity, reserved_quantity FROM inventory WHERE status = 'out_of_stock' AND is_active = true`,
  `UPDATE inventory SET status = ${RULE} WHERE status <> ${RULE}`,
];

/** Each check's hand-run equivalent (runbook where it has one) and the rows it works on. */
const BY_HAND: Record<string, { label: string; sql: string[]; hot: string }> = {
  'expired-reservations': { label: 'UPDATE … released, no recompute', sql: [`UPDATE stock_reservations SET status = 'released' WHERE status = 'active' AND expires_at < now()`],
    hot: `SELECT DISTINCT inventory_id AS id FROM stock_reservations WHERE status = 'active' AND expires_at < now() LIMIT 1000` },
  'cancelled-order-reservations': { label: 'UPDATE … FROM orders, no recompute', sql: [`UPDATE stock_reservations r SET status = 'released' FROM orders o WHERE o.id = r.order_id AND o.status = 'cancelled' AND r.status = 'active'`],
    hot: `SELECT DISTINCT r.inventory_id AS id FROM stock_reservations r JOIN orders o ON o.id = r.order_id WHERE o.status = 'cancelled' AND r.status = 'active' LIMIT 1000` },
  'duplicate-inventory': { label: 'GROUP BY lower(regexp_replace(…)), detect only', sql: [`SELECT external_id, lower(regexp_replace(variant_key, '\\s', '', 'g')), count(*) FROM inventory GROUP BY 1, 2 HAVING count(*) > 1`],
    hot: `SELECT i.id FROM inventory i JOIN (SELECT external_id, inventory_variant_canonical(variant_key) AS c FROM inventory GROUP BY 1, 2 HAVING count(*) > 1) d
          ON d.external_id = i.external_id AND d.c = inventory_variant_canonical(i.variant_key) LIMIT 1000` },
  'negative-available': { label: 'runbook: SET reserved_quantity = 0', sql: [`UPDATE inventory SET reserved_quantity = 0 WHERE available_quantity < 0`],
    hot: `SELECT id FROM inventory WHERE available_quantity < 0 LIMIT 1000` },
  'status-drift': { label: 'update_inventory_status()-style UPDATE', sql: [CHECKLIST[2]!], hot: `SELECT id FROM inventory WHERE status <> ${RULE} LIMIT 1000` },
  'orphaned-order-items': { label: 'DELETE … NOT EXISTS', sql: [`DELETE FROM order_items oi WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = oi.order_id)`], hot: '' },
  'orphaned-variants': { label: 'DELETE … NOT EXISTS', sql: [`DELETE FROM product_variants v WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = v.product_id)`], hot: '' },
  'expired-admin-sessions': { label: 'DELETE expired sessions', sql: [`DELETE FROM admin_tokens WHERE kind = 'session' AND expires_at < now()`], hot: '' },
};

async function hotIds(services: Services, sql: string): Promise<number[]> {
  if (!sql) return [];
  const { rows } = await services.db.query<{ id: string }>(sql);
  return rows.map((r) => Number(r.id));
}

const s = (x: number) => `${x.toFixed(2)} s`;

const bench: Bench = async ({ quick }) => {
  const n = quick ? 50_000 : 1_000_000;
  const log = (line: string) => console.error(line);
  const base = fromEnv(process.env);
  const dbUrl = withDatabase(base.databaseUrl, `fleet_bench_maint_${Date.now().toString(36)}`);
  await ensureDatabase(dbUrl);
  await migrate(dbUrl);
  const hook = await startWebhookReceiver();
  const config = { ...base, databaseUrl: dbUrl, alertWebhookUrl: hook.url, queuePrefix: `benchm${Date.now().toString(36)}`, logLevel: 'info' as const };
  const services = await createServices(config, [stockAlerts as AnyJob, integrityRepair as AnyJob],
    { log: createLogger('info', pino.destination({ dest: '/dev/null', sync: false })), buckets: false });
  const updaterPool = createPool(dbUrl, { max: 2 });
  const events = new Map<string, QueueEvents>();
  const eventConnections: ReturnType<typeof workerConnection>[] = [];
  let updater: Updater | undefined;
  const rows: BenchRow[] = [];
  try {
    log(`seeding ${n.toLocaleString('en-US')} inventory items with faults…`);
    const seedClient = await services.db.connect();
    try { await seedMaintenance(seedClient, n, log); } finally { seedClient.release(); }

    // Plans, on the faulty data with fresh statistics.
    const plans: Record<string, string> = {};
    const pc = await services.db.connect();
    try {
      for (const c of checks) {
        plans[c.name] = `detect: ${await planScans(pc, c.detectSql)}`;
        if (!c.repairSql) continue;
        const targets = (await pc.query<{ id: string }>(c.targetsSql, [500])).rows.map((r) => r.id);
        plans[c.name] += ` | repair batch: ${await planScans(pc, c.repairSql, ['bench', targets, c.name])}`;
      }
    } finally { pc.release(); }
    const alertPlans = async () => {
      await services.db.query('ANALYZE stock_alerts');
      const c = await services.db.connect();
      try {
        return `lifecycle: ${await planScans(c, LIFECYCLE_SQL)} | pending: ${await planScans(c, PENDING_SQL, [50])}`;
      } finally { c.release(); }
    };

    const { rows: [{ max }] } = await services.db.query('SELECT max(id)::int AS max FROM inventory');
    updater = startUpdater(updaterPool, max);
    const u = updater;

    const runFleet = async (job: AnyJob, payload: unknown) => {
      let ev = events.get(job.name);
      if (!ev) {
        const connection = workerConnection(config.redisUrl);
        eventConnections.push(connection);
        ev = new QueueEvents(job.name, { connection, prefix: config.queuePrefix });
        await ev.waitUntilReady();
        events.set(job.name, ev);
      }
      const host = await startHost(services, [job]);
      try {
        const id = await services.producer.enqueue(job.name, payload, { enqueuedBy: 'bench' });
        const queued = await services.producer.queue(job.name).getJob(id);
        const result = await queued!.waitUntilFinished(ev, 600_000);
        const done = await services.producer.queue(job.name).getJob(id);
        return { result, seconds: (done!.finishedOn! - done!.processedOn!) / 1000 };
      } finally {
        await host.close();
      }
    };

    const phase = async (name: string, targetS: number, hotSql: string, baseline: { label: string; sql: string[] },
      fleet: () => Promise<{ result: unknown; seconds: number }>, describe: (result: unknown) => string, plan?: string) => {
      log(`${name}…`);
      const hot = await hotIds(services, hotSql);
      u.phase(hot);
      const baseS = await timeRolledBack(services.db, baseline.sql);
      const baseStats = u.stats();
      u.phase(hot);
      const { value, peakRssMb } = await withPeakRss(fleet);
      const fleetStats = u.stats();
      const latencyOk = fleetStats.lockWaitsOver1s === 0 ? 'ok' : 'NO';
      rows.push(row(name,
        { label: `${s(value.seconds)}`, rate: n / value.seconds, unit: 'rows/s', peakRssMb },
        { label: `${s(baseS)} ${baseline.label}`, rate: n / baseS, unit: 'rows/s' },
        Number((baseS / targetS).toPrecision(2)),
        [`fleet ${s(value.seconds)} (target < ${targetS} s) — ${describe(value.result)}`,
          `concurrent updates during fleet run: ${fleetStats.updates}, blocked > 1 s by a lock: ${fleetStats.lockWaitsOver1s} (${latencyOk}); worst latency ${fleetStats.worstHotMs.toFixed(0)} ms on rows it repairs (${fleetStats.hotUpdates} updates), ${fleetStats.worstRandomMs.toFixed(0)} ms on random rows; during baseline: worst ${baseStats.worstMs.toFixed(0)} ms, blocked > 1 s: ${baseStats.lockWaitsOver1s}`,
          ...(plan ? [`plan: ${plan}`] : [])]));
    };

    for (const c of checks) {
      const hand = BY_HAND[c.name]!;
      await phase(`check ${c.name}`, 5, hand.hot, hand, () => runFleet(integrityRepair as AnyJob, { checks: [c.name], removeOrphans: true }), (r) => {
        const { action: _a, ...rest } = (r as { checks: Record<string, Record<string, unknown>> }).checks[c.name]!;
        return JSON.stringify(rest);
      }, plans[c.name]);
    }
    const clean = await runFleet(integrityRepair as AnyJob, {});
    const cleanFound = Object.values((clean.result as { checks: Record<string, { found: number }> }).checks).reduce((a, x) => a + x.found, 0);

    // The repairs queued stock-alerts follow-ups; the alert phases start from a clean queue.
    await services.producer.queue('stock-alerts').obliterate({ force: true });
    const alertsDesc = (r: unknown) => {
      const x = r as Record<string, unknown>;
      return `opened ${x.opened}, escalated ${x.escalated}, resolved ${x.resolved}, open ${x.open}, notified ${x.notified}, webhook ${x.webhook}; ms ${JSON.stringify(x.ms)}`;
    };
    const notInStock = `SELECT id FROM inventory WHERE status <> 'in_stock' LIMIT 1000`;
    const checklist = { label: 'runbook checklist SELECTs + status UPDATE', sql: CHECKLIST };
    await phase('stock-alerts (first run)', 2, notInStock, checklist, () => runFleet(stockAlerts as AnyJob, {}), alertsDesc);
    rows[rows.length - 1]!.notes!.push(`plan (after the run, analyzed): ${await alertPlans()}`);
    // 15 minutes of trade: 0.3 % of items change (some recover, some escalate, some drop).
    await services.db.query(`UPDATE inventory SET quantity = CASE WHEN quantity = 0 THEN 50 WHEN quantity <= 3 THEN 0 ELSE 2 END WHERE id % 1000 IN (1, 12, 500)`);
    await phase('stock-alerts (0.3 % changed)', 2, notInStock, checklist, () => runFleet(stockAlerts as AnyJob, {}), alertsDesc);
    await phase('stock-alerts (nothing changed)', 2, notInStock, checklist, () => runFleet(stockAlerts as AnyJob, {}), alertsDesc);
    rows[rows.length - 1]!.notes!.push(`integrity-repair, all 8 checks on the repaired data: ${s(clean.seconds)}, found ${cleanFound}`,
      `digests received by the local webhook: ${hook.delivered().length} (one per run that had something new)`);
    return rows;
  } finally {
    await updater?.stop();
    await Promise.allSettled([...events.values()].map((e) => e.close()));
    for (const c of eventConnections) c.disconnect();
    for (const name of ['stock-alerts', 'integrity-repair']) await services.producer.queue(name).obliterate({ force: true }).catch(() => {});
    await services.close();
    await updaterPool.end();
    await hook.close();
    const admin = createPool(withDatabase(dbUrl), { max: 1 });
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(databaseName(dbUrl))} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
};

export default bench;
