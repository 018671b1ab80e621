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

async function detect(ctx: JobContext, check: Check): Promise<Counts> {
  const { rows } = await ctx.db.query<Counts>(check.detectSql);
  return rows[0] ?? { found: 0 };
}

/**
 * Repairs in batches until what was found is done: each batch is one transaction under the
 * check's advisory lock, holding its row locks only for that batch (well under a second),
 * with its audit rows written in the same transaction. A small repair is one transaction.
 */
async function repair(ctx: JobContext, check: Check, found: number, batchSize: number): Promise<Counts> {
  const totals: Counts = { repaired: 0 };
  // Bounded: found can only shrink, and a batch that repairs nothing ends the loop.
  const maxBatches = Math.ceil(found / batchSize) + 10;
  for (let batch = 0; batch < maxBatches && totals.repaired! < found; batch++) {
    ctx.signal.throwIfAborted();
    const counts = await withTransaction(ctx.db, async (client) => {
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [ADVISORY_LOCK_TIMEOUT]);
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`integrity-repair:${check.name}`]);
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [ROW_LOCK_TIMEOUT]);
      return check.repairBatch({ client, check: check.name, jobId: ctx.job.id, batchSize });
    });
    for (const [k, v] of Object.entries(counts)) totals[k] = (totals[k] ?? 0) + v;
    if (!counts.repaired) break;
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
    const { found = 0, ...extra } = await detect(ctx, check);
    const repairs = !payload.dryRun && check.repairs(options);
    const out: CheckResult = { found, repaired: 0, action: payload.dryRun ? 'dry-run' : repairs ? 'repaired' : 'reported', ms: 0, ...extra };
    if (repairs && found > 0) {
      const { repaired = 0, ...more } = await repair(ctx, check, found, payload.batchSize);
      Object.assign(out, more, { repaired });
      if (repaired > 0 && check.touchesInventory) inventoryTouched = true;
    } else if (!repairs && found > 0 && check.sampleSql) {
      const { rows } = await ctx.db.query<{ id: string }>(check.sampleSql);
      out.sample = rows.map((r) => r.id);
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
