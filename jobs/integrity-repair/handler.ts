import type { JobContext } from '../../shared/job.ts';
import { withTransaction } from '../../shared/db.ts';
import type { Check, CheckOptions, Counts } from './check.ts';
import { checks as allChecks } from './checks/index.ts';
import { integrityMetrics } from './metrics.ts';
import type { IntegrityRepairPayload } from './index.ts';

export interface CheckResult {
  found: number;
  repaired: number;
  /** 'repaired', 'reported' (orphans without removeOrphans) or 'dry-run'. */
  action: 'repaired' | 'reported' | 'dry-run';
  ms: number;
  /** Ids of what was found, for checks that only report (at most 20). */
  sample?: string[];
  [extra: string]: number | string | string[] | undefined;
}

export interface IntegrityRepairResult {
  dryRun: boolean;
  checks: Record<string, CheckResult>;
  /** Job id of the stock-alerts run queued after inventory repairs. */
  stockAlertsJob?: string;
}

// Waiting for the same check in another run: its batches are short, so this is generous.
const ADVISORY_LOCK_TIMEOUT = '30s';
// Row locks: repairs skip rows others hold (SKIP LOCKED); the few statements that must wait
// (merging duplicates) wait for an ordinary update's transaction, never for minutes.
const ROW_LOCK_TIMEOUT = '2s';
// Targets listed per check and run (ids in memory: ~100 bytes each); the rest waits for the next run.
const MAX_TARGETS = 200_000;

// The planner's cost estimates for these whole-table statements cross jit_above_cost, and
// JIT compilation then takes ~1 s at 1M rows (measured), more than the statement itself.
const NO_JIT = `SELECT set_config('jit', 'off', true)`;

/** A detect, targets or sample statement: in a READ ONLY transaction, so a dry run provably writes nothing. */
async function read<T extends object>(ctx: JobContext, sql: string, params: unknown[] = []): Promise<T[]> {
  return withTransaction(ctx.db, async (client) => {
    await client.query('SET TRANSACTION READ ONLY');
    await client.query(NO_JIT);
    return (await client.query<T>(sql, params)).rows;
  });
}

/**
 * Repairs the targets in batches: each batch is one transaction under the check's advisory
 * lock, holding its row locks only for that batch, with its audit rows written in the same
 * transaction. A small repair is one transaction. A crash between batches leaves finished
 * batches committed and the rest untouched for the next run.
 */
async function repair(ctx: JobContext, check: Check, targets: Record<string, string>[], batchSize: number): Promise<Counts> {
  const totals: Counts = { repaired: 0, batches: 0, longestBatchMs: 0 };
  for (let start = 0; start < targets.length; start += batchSize) {
    ctx.signal.throwIfAborted();
    const batchStarted = performance.now();
    const counts = await withTransaction(ctx.db, async (client) => {
      await client.query(NO_JIT);
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [ADVISORY_LOCK_TIMEOUT]);
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`integrity-repair:${check.name}`]);
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [ROW_LOCK_TIMEOUT]);
      return check.repairBatch({ client, check: check.name, jobId: ctx.job.id, targets: targets.slice(start, start + batchSize) });
    });
    for (const [k, v] of Object.entries(counts)) totals[k] = (totals[k] ?? 0) + v;
    // How long this batch held its row locks: the number the "< 1 s" promise is about.
    totals.longestBatchMs = Math.max(totals.longestBatchMs!, Math.round(performance.now() - batchStarted));
    totals.batches!++;
  }
  return totals;
}

export async function runIntegrityRepair(payload: IntegrityRepairPayload, ctx: JobContext): Promise<IntegrityRepairResult> {
  const metrics = integrityMetrics();
  const wanted = new Set(payload.checks ?? allChecks.map((c) => c.name));
  const selected = allChecks.filter((c) => wanted.has(c.name));
  const options: CheckOptions = { removeOrphans: payload.removeOrphans };
  const result: IntegrityRepairResult = { dryRun: payload.dryRun, checks: {} };
  let inventoryTouched = false;

  for (const [i, check] of selected.entries()) {
    ctx.signal.throwIfAborted();
    const started = performance.now();
    const repairs = !payload.dryRun && check.repairs(options);
    const action = payload.dryRun ? 'dry-run' : repairs ? 'repaired' : 'reported';
    let targets: Record<string, string>[] = [];
    let counts: Counts;
    if (repairs && check.foundIsTargetCount) {
      targets = await read(ctx, check.targetsSql, [MAX_TARGETS]);
      counts = { found: targets.length };
      if (targets.length === MAX_TARGETS) counts = (await read<Counts>(ctx, check.detectSql))[0] ?? counts;
    } else {
      counts = (await read<Counts>(ctx, check.detectSql))[0] ?? { found: 0 };
      if (repairs && (counts.found ?? 0) > 0) targets = await read(ctx, check.targetsSql, [MAX_TARGETS]);
    }
    const { found = 0, ...extra } = counts;
    const out: CheckResult = { found, repaired: 0, action, ms: 0, ...extra };
    if (targets.length > 0) {
      const { repaired = 0, ...more } = await repair(ctx, check, targets, payload.batchSize);
      Object.assign(out, more, { repaired });
      if (repaired > 0 && check.touchesInventory) inventoryTouched = true;
    } else if (!repairs && found > 0 && check.sampleSql) {
      out.sample = (await read<{ id: string }>(ctx, check.sampleSql)).map((r) => r.id);
    }
    out.ms = Math.round(performance.now() - started);
    result.checks[check.name] = out;
    metrics.found.set({ check: check.name }, found);
    if (out.repaired > 0) metrics.repaired.inc({ check: check.name }, out.repaired);
    ctx.log.info({ check: check.name, ...out }, out.repaired > 0 ? 'integrity check repaired' : 'integrity check done');
    await ctx.progress({ done: i + 1, total: selected.length, check: check.name });
  }

  if (inventoryTouched) {
    // Quantities or status changed: alerts follow now, not at the next 15-minute tick. The
    // job id makes a retry of this run queue no second follow-up.
    result.stockAlertsJob = await ctx.enqueue('stock-alerts', {}, { jobId: `after-integrity-repair-${ctx.job.id.replace(/:/g, '-')}` });
  }
  return result;
}
