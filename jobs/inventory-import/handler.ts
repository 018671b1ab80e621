import type { JobContext } from '../../shared/job.ts';
import { PermanentJobError } from '../../shared/errors.ts';
import { loadRules } from './categories.ts';
import { openSource, type OpenedSource } from './source.ts';
import { stageRows, type Rejection, type StageCounts } from './stage.ts';
import { MergePipeline, type CategoryTotals, type MergeTotals } from './pipeline.ts';
import { beginImport } from './queries.ts';
import { importMetrics } from './metrics.ts';
import type { InventoryImportPayload } from './index.ts';

// Loaded once per process: a broken rules file stops the worker at start, not mid-import.
const rules = loadRules();

/** Rejections kept in the result; the audit row (job_runs.detail) keeps more. */
const RESULT_ERRORS = 100;
/** job_runs.detail is capped at 256 kB by the host; the rejections kept for it stay under this. */
const AUDIT_BYTES = 200_000;

export interface ImportResult {
  dryRun: boolean;
  source: string;
  /** Items read from the file (including rejected and cancelled ones). */
  items: number;
  /** Distinct (itemId, variant) rows, by what the import did (or would do) with them. */
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  skippedCancelled: number;
  /** stock_movements rows written (or that would be): one per changed quantity. */
  movements: number;
  /** The file's rows per category: distinct rows, units, and value (unit price × quantity). */
  byCategory: Record<string, CategoryTotals>;
  /** The first rejected rows, each with its position in the file and the reason. */
  errors: Rejection[];
}

/**
 * One transaction from the first row to the last: a failure anywhere (bad JSON at the end
 * of the file, a lost connection, a killed worker) leaves the database as it was. A dry run
 * does exactly the same work and rolls back, so what it reports is what an import would do.
 */
export async function importInventory(payload: InventoryImportPayload, ctx: JobContext): Promise<ImportResult> {
  const started = performance.now();
  const rejections: Rejection[] = [];
  let auditBytes = 0;
  const client = await ctx.db.connect();
  const pipeline = new MergePipeline(client, `inventory-import:${ctx.job.id}`);
  let opened: OpenedSource | undefined;
  let counts: StageCounts;
  let totals: MergeTotals;
  let stagedAt = 0;
  try {
    await beginImport(client);
    opened = await openSource(payload.source, ctx);
    ctx.log.info({ source: opened.label, bytes: opened.bytes, dryRun: payload.dryRun }, 'import started');
    counts = await stageRows(opened, pipeline, {
      categorize: rules.categorize,
      signal: ctx.signal,
      progress: (done, total) => ctx.progress({ done, total }),
      reject: (r) => {
        if (auditBytes > AUDIT_BYTES) return;
        auditBytes += JSON.stringify(r).length + 1;
        if (auditBytes <= AUDIT_BYTES) rejections.push(r);
      },
    });
    stagedAt = performance.now();
    totals = await pipeline.finish();
    await client.query(payload.dryRun ? 'ROLLBACK' : 'COMMIT');
    client.release();
  } catch (err) {
    opened?.close();
    // Dropping the connection ends the transaction in any state (mid-COPY included): nothing is left behind.
    client.release(true);
    await pipeline.settle();
    throw explain(err);
  }

  const result: ImportResult = {
    dryRun: payload.dryRun,
    source: opened.label,
    items: counts.items,
    inserted: totals.inserted,
    updated: totals.updated,
    unchanged: totals.unchanged,
    rejected: counts.rejected,
    skippedCancelled: counts.skippedCancelled,
    movements: totals.movements,
    byCategory: totals.byCategory,
    errors: rejections.slice(0, RESULT_ERRORS),
  };
  if (counts.rejected > 0) {
    ctx.audit({ rejected: counts.rejected, errors: rejections, ...(counts.rejected > rejections.length ? { omitted: counts.rejected - rejections.length } : {}) });
  }
  if (!payload.dryRun) {
    const metrics = importMetrics();
    for (const outcome of ['inserted', 'updated', 'unchanged'] as const) metrics.items.inc({ outcome }, result[outcome]);
    metrics.items.inc({ outcome: 'rejected' }, result.rejected);
    metrics.items.inc({ outcome: 'skipped_cancelled' }, result.skippedCancelled);
    metrics.bytes.inc(counts.bytes);
    // Also after a retry that found nothing to change: the attempt that did commit may have died before this.
    await ctx.enqueue('mv-refresh', { views: ['inventory_category_summary'] }, { jobId: `after-inventory-import-${ctx.job.id}` });
  }
  const done = performance.now();
  const { errors: _errors, byCategory: _byCategory, ...logged } = result;
  ctx.log.info({
    ...logged, batches: pipeline.batches, repeats: counts.repeats, waitedForDbMs: Math.round(pipeline.waitMs),
    readMs: Math.round(stagedAt - started), finishMs: Math.round(done - stagedAt), ms: Math.round(done - started),
  }, payload.dryRun ? 'import dry run done' : 'import committed');
  return result;
}

/** Turns database errors a retry cannot fix into messages an admin can act on. */
function explain(err: unknown): unknown {
  if ((err as { code?: string }).code === '22003') {
    return new PermanentJobError('A quantity summed over the file\'s orders exceeds 2147483647; the export cannot be imported as is', { cause: err });
  }
  return err;
}
