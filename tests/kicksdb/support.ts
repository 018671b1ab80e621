// Shared by the kicksdb-sync tests: environment for the stand-in, table resets, a content
// fingerprint of the synced rows, and the rate check over recorded request times.
import { waitFor, type TestFleet } from '../helpers.ts';
import type { KicksdbSyncResult } from '../../jobs/kicksdb-sync/handler.ts';
import type { KicksdbStandin, RecordedRequest } from '../fixtures/kicksdb-standin.ts';

export function kicksEnv(standin: KicksdbStandin, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    KICKSDB_BASE_URL: standin.url,
    KICKSDB_API_KEY: standin.apiKey,
    KICKSDB_PAGE_SIZE: '10',
    KICKSDB_REQUESTS_PER_MINUTE: '60000',
    KICKSDB_RETRY_BASE_MS: '20',
    ...overrides,
  };
}

export interface Finished { id: string; state: string; result: KicksdbSyncResult; failedReason?: string; attemptsMade: number; processedOn: number; finishedOn: number }

/**
 * Waits for a kicksdb-sync job to end. The job is read only once its state is final:
 * reading it first and the state second can return a completed job without its result.
 */
export async function finished(fleet: TestFleet, id: string, timeoutMs = 40_000): Promise<Finished> {
  const queue = fleet.services.producer.queue('kicksdb-sync');
  await waitFor(async () => ['completed', 'failed'].includes(await queue.getJobState(id)), { timeoutMs, intervalMs: 25, what: `kicksdb-sync job ${id}` });
  const job = (await queue.getJob(id))!;
  return {
    id, state: await job.getState(), result: job.returnvalue as KicksdbSyncResult, failedReason: job.failedReason,
    attemptsMade: job.attemptsMade, processedOn: job.processedOn ?? 0, finishedOn: job.finishedOn ?? 0,
  };
}

export async function runSync(fleet: TestFleet, payload: Record<string, unknown>): Promise<Finished> {
  return finished(fleet, await fleet.services.producer.enqueue('kicksdb-sync', payload, { enqueuedBy: 'test' }));
}

export async function resetCatalogue(fleet: TestFleet): Promise<void> {
  await fleet.db.query('TRUNCATE products, product_variants, kicksdb_sync_state');
}

/** Everything the sync writes, minus surrogate ids and write times: equal rows, equal hash. */
export async function fingerprint(fleet: TestFleet): Promise<{ products: number; variants: number; hash: string }> {
  const { rows: [p] } = await fleet.db.query(`
    SELECT count(*)::int AS n, md5(coalesce(string_agg(concat_ws('|', source, source_product_id, sku, sku_normalized, slug, title, brand,
             image_url, source_image_url, traits::text, min_price, max_price, avg_price, retail_price, source_updated_at), E'\\n'
             ORDER BY source, source_product_id), '')) AS h
    FROM products`);
  const { rows: [v] } = await fleet.db.query(`
    SELECT count(*)::int AS n, md5(coalesce(string_agg(concat_ws('|', p.source, p.source_product_id, v.size, v.size_type, v.lowest_ask,
             v.total_asks, v.available, v.currency), E'\\n' ORDER BY p.source, p.source_product_id, v.size, v.size_type), '')) AS h
    FROM product_variants v JOIN products p ON p.id = v.product_id`);
  return { products: p.n, variants: v.n, hash: `${p.h}/${v.h}` };
}

/**
 * Most requests that arrived within any window of `windowMs` (sliding over arrival times).
 *
 * The limiter grants exactly one request per interval T; a request reaches the stand-in a
 * little after its grant (event loop, a process's first connection, CPU starvation on a busy
 * machine). Delays shorter than T can move at most one extra request into a window, so the
 * rate holds when every window of W ms has at most W/T + 1 requests. Requests sent without
 * the shared limit (two replicas each at the full rate) would put about 2W/T there.
 */
export function maxInWindow(requests: readonly RecordedRequest[], windowMs: number): number {
  const at = requests.map((r) => r.at).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < at.length; j++) {
    while (at[j]! - at[i]! >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}
