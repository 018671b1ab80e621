import type { JobContext } from '../../shared/job.ts';
import type { PoolClient } from '../../shared/db.ts';
import { PermanentJobError } from '../../shared/errors.ts';
import { redisRateLimiter } from '../../shared/rate-limit.ts';
import { KicksdbClient } from './client.ts';
import { kicksdbMetrics } from './metrics.ts';
import { dedupe, upsertProducts, upsertVariants, type Sql } from './queries.ts';
import { beginRun, commitPage, finishRun, tryLock, unlock, type RunKey, type Totals } from './state.ts';
import type { ProductRow, Skipped } from './schemas.ts';
import type { KicksdbSyncPayload } from './index.ts';

export interface KicksdbSyncResult extends Omit<Totals, 'maxStatementsPerPage'> {
  source: string;
  mode: string;
  query: string | null;
  /** false when maxPages stopped the run early; the cursor then stays where it was. */
  complete: boolean;
  stoppedBy: 'last-page' | 'cursor' | 'max-pages';
  resumedFromPage: number | null;
  cursor: string | null;
  statementsPerPage: number;
}

const RESULT_SKIPPED = 100;
const AUDIT_SKIPPED = 10_000;
/** Detail requests in flight at once (GOAT search pages carry no variants); the limiter still paces them. */
const DETAIL_CONCURRENCY = 4;

function countingSql(client: PoolClient): Sql {
  const sql: Sql = {
    statements: 0,
    query: (text, values) => { sql.statements++; return client.query(text, values); },
  };
  return sql;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const newest = (a: string | null, b: string | null) => (!a ? b : !b ? a : a > b ? a : b);

export async function syncCatalogue(payload: KicksdbSyncPayload, ctx: JobContext): Promise<KicksdbSyncResult> {
  const cfg = ctx.config.kicksdb;
  if (!cfg.apiKey) throw new PermanentJobError('KICKSDB_API_KEY is not set: KicksDB needs an API key (sent as the Authorization header)');
  // Job ids restart when a queue is obliterated; with the creation time they name one job.
  const key: RunKey = { source: payload.source, query: payload.query ?? '', jobId: `${ctx.job.id}@${ctx.job.timestamp}` };
  const metrics = kicksdbMetrics();
  const client = await ctx.db.connect();
  const sql = countingSql(client);
  let broken = false;
  try {
    if (!(await tryLock(sql, key))) {
      // Retryable: the other run finishes and this attempt's retry goes ahead.
      throw new Error(`Another kicksdb-sync run for ${key.source}${key.query ? ` (query "${key.query}")` : ''} is in progress; this attempt will be retried`);
    }
    try {
      return await run(payload, ctx, sql, key, metrics);
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      await unlock(sql, key).catch(() => { broken = true; });
    }
  } finally {
    // A client that failed mid-transaction is dropped rather than returned to the pool.
    client.release(broken || undefined);
  }
}

async function run(payload: KicksdbSyncPayload, ctx: JobContext, sql: Sql, key: RunKey, metrics: ReturnType<typeof kicksdbMetrics>): Promise<KicksdbSyncResult> {
  const cfg = ctx.config.kicksdb;
  const start = await beginRun(sql, key, payload.mode);
  if (start.kind === 'finished') {
    ctx.log.info('this job already finished its run; returning the stored result');
    return start.result as KicksdbSyncResult;
  }
  const { totals, cursor } = start;
  if (start.resumedFromPage) ctx.log.info({ page: start.resumedFromPage }, 'resuming the sync after its last committed page');
  const api = new KicksdbClient({
    source: payload.source, baseUrl: cfg.baseUrl, apiKey: cfg.apiKey!, timeoutMs: cfg.timeoutMs, maxRetries: cfg.maxRetries,
    retryBaseMs: cfg.retryBaseMs, signal: ctx.signal, log: ctx.log, metrics,
    // One key per fleet (queue prefix): every replica draws from the same allowance.
    limiter: redisRateLimiter(ctx.redis, `${ctx.config.queuePrefix}:kicksdb:rate`, { perMinute: cfg.requestsPerMinute }),
  });
  const incremental = payload.mode === 'incremental' && cursor !== null;
  const auditSkipped: Skipped[] = [];
  let runMax = start.runMaxUpdatedAt;
  let page = start.startPage;
  let pagesThisRun = 0;
  let previousOldest: string | null = null;
  let previousIds = new Set<string>();
  let warnedOrder = false;
  let stoppedBy: KicksdbSyncResult['stoppedBy'] = 'last-page';
  let complete = true;

  for (;;) {
    ctx.signal.throwIfAborted();
    if (payload.maxPages !== undefined && pagesThisRun >= payload.maxPages) {
      stoppedBy = 'max-pages';
      complete = false;
      break;
    }
    const requestsBefore = api.requests;
    const res = await api.search({ page, limit: cfg.pageSize, query: payload.query, newestFirst: payload.mode === 'incremental' });
    const skipped = [...res.skipped];
    let products = res.products;
    // An API that ignores `page` would hand back full pages forever.
    const ids = products.map((p) => p.sourceProductId);
    if (ids.length > 0 && ids.every((id) => previousIds.has(id))) {
      throw new PermanentJobError(`KicksDB returned page ${page - 1} again for ${res.where}: the listing does not page; stopping instead of looping`);
    }
    previousIds = new Set(ids);
    let reachedCursor = false;
    if (incremental) {
      // Items older than the cursor have not changed since the last complete run: never
      // rewritten. Stopping early is only safe when the listing really is newest-first.
      const stamps = products.map((p) => p.sourceUpdatedAt);
      const ordered = stamps.every((s, i) => s !== null && (i === 0 ? (previousOldest === null || s <= previousOldest) : s <= stamps[i - 1]!));
      previousOldest = stamps.at(-1) ?? previousOldest;
      const fresh = products.filter((p) => p.sourceUpdatedAt === null || p.sourceUpdatedAt >= cursor!);
      if (fresh.length < products.length) {
        if (ordered) reachedCursor = true;
        else if (!warnedOrder) {
          warnedOrder = true;
          ctx.log.warn({ where: res.where }, 'listing is not newest-first: reading every page (items older than the cursor are still not written)');
        }
      }
      products = fresh;
    }
    // GOAT search results carry no variants: ask the detail endpoint for each such product.
    const needDetail = products.filter((p) => p.variants === undefined);
    if (needDetail.length > 0) {
      const details = await mapLimit(needDetail, DETAIL_CONCURRENCY, (p) => api.detail(p.sourceProductId));
      const byId = new Map<string, ProductRow>();
      for (const d of details) {
        if ('product' in d) byId.set(d.product.sourceProductId, { ...d.product, variants: d.product.variants ?? [] });
        else skipped.push(d.skipped);
      }
      products = products.flatMap((p) => (p.variants !== undefined ? [p] : byId.has(p.sourceProductId) ? [byId.get(p.sourceProductId)!] : []));
    }
    const rows = dedupe(products);
    for (const p of rows) runMax = newest(runMax, p.sourceUpdatedAt);

    // One transaction per page: its products, its variants and the resume point, or nothing.
    const statementsAtPage = sql.statements;
    await sql.query('BEGIN');
    try {
      const pc = await upsertProducts(sql, payload.source, rows);
      const vc = await upsertVariants(sql, payload.source, rows);
      totals.pages++;
      totals.requests += api.requests - requestsBefore;
      totals.fetched += res.items;
      totals.inserted += pc.inserted;
      totals.updated += pc.updated;
      totals.unchanged += rows.length - pc.inserted - pc.updated;
      totals.imagesQueued += pc.imagesQueued;
      totals.variants += vc.inserted + vc.updated;
      totals.variantsUnchanged += vc.total - vc.inserted - vc.updated;
      totals.variantsRemoved += vc.removed;
      totals.skippedCount += skipped.length;
      totals.skipped.push(...skipped.slice(0, Math.max(0, RESULT_SKIPPED - totals.skipped.length)));
      // + the state update below and COMMIT.
      const perPage = sql.statements - statementsAtPage + 2;
      totals.maxStatementsPerPage = Math.max(totals.maxStatementsPerPage, perPage);
      totals.statements += perPage;
      await commitPage(sql, key, page, runMax, totals);
      await sql.query('COMMIT');
    } catch (err) {
      await sql.query('ROLLBACK').catch(() => {});
      throw err;
    }
    if (skipped.length) {
      metrics.skipped.inc({ source: payload.source }, skipped.length);
      auditSkipped.push(...skipped.slice(0, Math.max(0, AUDIT_SKIPPED - auditSkipped.length)));
      ctx.log.warn({ page, skipped: skipped.length, first: skipped[0] }, 'skipped malformed or missing items');
    }
    pagesThisRun++;
    const totalPages = res.total !== null ? Math.max(page, Math.ceil(res.total / res.perPage)) : undefined;
    await ctx.progress({ done: page, ...(totalPages ? { total: totalPages } : {}) });
    if (res.items === 0 || res.items < res.perPage) break;
    if (reachedCursor) {
      stoppedBy = 'cursor';
      break;
    }
    page++;
  }

  const newCursor = complete ? newest(cursor, runMax) : cursor;
  const { maxStatementsPerPage, ...counts } = totals;
  const result: KicksdbSyncResult = {
    source: payload.source, mode: payload.mode, query: payload.query ?? null, ...counts,
    complete, stoppedBy, resumedFromPage: start.resumedFromPage, cursor: newCursor, statementsPerPage: maxStatementsPerPage,
  };
  await finishRun(sql, key, complete, runMax, result);
  if (auditSkipped.length) ctx.audit({ skipped: auditSkipped });
  ctx.log.info({ pages: totals.pages, requests: totals.requests, inserted: totals.inserted, updated: totals.updated, skipped: totals.skippedCount }, 'kicksdb sync finished');
  return result;
}
