import type { JobContext } from '../../shared/job.ts';
import type { PoolClient } from '../../shared/db.ts';
import { applyLifecycle, fixStatusDrift, pendingAlerts, alertDetails, markNotified } from './queries.ts';
import { buildDigest, DIGEST_MAX_ITEMS } from './digest.ts';
import { deliver } from './webhook.ts';
import { stockAlertMetrics } from './metrics.ts';
import type { StockAlertsPayload } from './index.ts';

export type WebhookOutcome = 'sent' | 'failed' | 'not-configured' | 'nothing-to-send' | 'dry-run';

export interface StockAlertsResult {
  opened: number;
  escalated: number;
  resolved: number;
  /** Open alerts after the run (= lowStock + outOfStock). */
  open: number;
  lowStock: number;
  outOfStock: number;
  /** Alerts the webhook accepted in this run's digest. */
  notified: number;
  /** Open alerts still waiting for a digest (webhook down or not configured). */
  pending: number;
  deescalated: number;
  statusFixed: number;
  webhook: WebhookOutcome;
  webhookError?: string;
  dryRun: boolean;
  /** Where the time went: drift fix, lifecycle transaction, digest (build, POST, mark), total. */
  ms: { drift: number; lifecycle: number; digest: number; total: number };
}

const RUN_LOCK = 'stock-alerts';
// Whole-table statements cross jit_above_cost at 1M rows; compiling them costs more than running them.
const NO_JIT = `SELECT set_config('jit', 'off', true)`;
/** How long a run waits for another replica's run (they take seconds) before failing the attempt. */
const RUN_LOCK_WAIT_MS = 120_000;

/**
 * A session-level advisory lock for the whole run, digest included: two replicas never
 * send the same pending alerts twice. It dies with the connection if the process does.
 */
async function acquireRunLock(client: PoolClient, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + RUN_LOCK_WAIT_MS;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [RUN_LOCK]);
    if (rows[0]!.ok) return;
    if (Date.now() > deadline) throw new Error(`another stock-alerts run has held the lock for over ${RUN_LOCK_WAIT_MS / 1000} s`);
    signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopwatch() {
  const start = performance.now();
  let last = start;
  return {
    /** Milliseconds since the previous lap (or the start). */
    lap: () => { const now = performance.now(); const d = Math.round(now - last); last = now; return d; },
    total: () => Math.round(performance.now() - start),
  };
}

/** BEGIN, JIT off, fn, then COMMIT (or ROLLBACK when commit is false, or on any error). */
async function inTransaction<T>(client: PoolClient, commit: boolean, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(NO_JIT);
    const result = await fn();
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export async function runStockAlerts(payload: StockAlertsPayload, ctx: JobContext): Promise<StockAlertsResult> {
  const client = await ctx.db.connect();
  let healthy = true;
  try {
    await acquireRunLock(client, ctx.signal);
    try {
      return await runLocked(client, payload.dryRun, ctx);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [RUN_LOCK]).catch(() => { healthy = false; });
    }
  } catch (err) {
    healthy = false;
    throw err;
  } finally {
    // A connection that failed mid-way is discarded, so no lock or transaction can linger.
    client.release(healthy ? undefined : true);
  }
}

async function runLocked(client: PoolClient, dryRun: boolean, ctx: JobContext): Promise<StockAlertsResult> {
  const metrics = stockAlertMetrics();
  const clock = stopwatch();
  // Its own transaction: drifted rows stay locked only for this one statement. A dry run
  // recomputes inside the rolled-back lifecycle transaction instead.
  let statusFixed = dryRun ? 0 : await inTransaction(client, true, () => fixStatusDrift(client));
  const ms = { drift: clock.lap(), lifecycle: 0, digest: 0, total: 0 };
  let pendingInDryRun = 0;
  const counts = await inTransaction(client, !dryRun, async () => {
    await client.query(`SELECT set_config('lock_timeout', '5s', true)`);
    if (dryRun) statusFixed = await fixStatusDrift(client);
    const c = await applyLifecycle(client);
    if (dryRun) pendingInDryRun = (await pendingAlerts(client, 0)).total;
    return c;
  });
  ms.lifecycle = clock.lap();
  const done = <T extends object>(r: T) => {
    ms.digest = clock.lap();
    ms.total = clock.total();
    return { ...r, ms };
  };
  metrics.lowStock.set(counts.lowStock);
  metrics.outOfStock.set(counts.outOfStock);
  const base = {
    opened: counts.opened, escalated: counts.escalated, resolved: counts.resolved,
    open: counts.lowStock + counts.outOfStock, lowStock: counts.lowStock, outOfStock: counts.outOfStock,
    deescalated: counts.deescalated, statusFixed, dryRun,
  };
  ctx.log.info({ ...base, ms }, 'stock alerts updated');
  if (dryRun) return done({ ...base, notified: 0, pending: pendingInDryRun, webhook: 'dry-run' as const });

  const pending = await pendingAlerts(client, DIGEST_MAX_ITEMS);
  if (pending.total === 0 || pending.maxId === null) return done({ ...base, notified: 0, pending: 0, webhook: 'nothing-to-send' as const });
  const url = ctx.config.alertWebhookUrl;
  if (!url) {
    ctx.log.warn({ pending: pending.total }, 'ALERT_WEBHOOK_URL is not set: alerts are recorded but nobody is notified');
    return done({ ...base, notified: 0, pending: pending.total, webhook: 'not-configured' as const });
  }

  const details = await alertDetails(client, pending.listed);
  const digest = buildDigest({
    ...counts, open: base.open, pending: pending.total,
    newAlerts: pending.newAlerts, escalatedAlerts: pending.total - pending.newAlerts,
  }, details);
  const delivery = await deliver(url, digest, ctx.signal);
  if (!delivery.ok) {
    metrics.digests.inc({ outcome: 'failed' });
    ctx.log.error({ attempts: delivery.attempts, error: delivery.error, pending: pending.total },
      'stock-alert digest not delivered; the alerts stay pending for the next run');
    return done({ ...base, notified: 0, pending: pending.total, webhook: 'failed' as const, webhookError: `${delivery.error} (after ${delivery.attempts} attempts)` });
  }
  // Only after the webhook accepted the digest: a crash before this line re-sends next run
  // (at least once), never loses an alert.
  const notified = await markNotified(client, pending.maxId);
  metrics.digests.inc({ outcome: 'sent' });
  const result = done({ ...base, notified, pending: pending.total - notified, webhook: 'sent' as const });
  ctx.log.info({ notified, attempts: delivery.attempts, ms }, 'stock-alert digest delivered');
  return result;
}
