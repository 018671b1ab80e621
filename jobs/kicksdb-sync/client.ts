import type { Logger } from '../../shared/logger.ts';
import { sleep, type RateLimiter } from '../../shared/rate-limit.ts';
import { PermanentJobError, errorMessage } from '../../shared/errors.ts';
import { maskUrlCredentials } from '../../shared/redact.ts';
import { deadline } from '../../shared/deadline.ts';
import { parseProduct, type ProductRow, type Skipped, type Source } from './schemas.ts';
import type { KicksdbMetrics } from './metrics.ts';

/** A page of 100 products with variants is ~100 KB; anything near this is not a product page. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MAX_ITEMS_PER_PAGE = 1_000;
const MAX_BACKOFF_MS = 60_000;
/** A longer Retry-After is waited out by the job's own retry (with resume), not in here. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

export interface ClientOptions {
  source: Source;
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  limiter: RateLimiter;
  signal: AbortSignal;
  log: Logger;
  metrics: KicksdbMetrics;
  maxBodyBytes?: number;
}

export interface SearchPage {
  /** Method and path of the request, for messages (the key travels in a header, never here). */
  where: string;
  products: ProductRow[];
  skipped: Skipped[];
  /** Items on the page, valid or not: a page with fewer than perPage is the last one. */
  items: number;
  perPage: number;
  total: number | null;
}

type Reply = { status: 200; text: string; where: string } | { status: 404; where: string };

function statusClass(status: number): string {
  if (status >= 200 && status < 300) return '2xx';
  if ([401, 403, 404, 429].includes(status)) return String(status);
  return status >= 500 ? '5xx' : '4xx';
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms))) : undefined;
}

/** Exponential backoff with equal jitter: half fixed, half random, so replicas spread out. */
export function backoffMs(attempt: number, baseMs: number): number {
  const exp = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Reads at most max bytes; over that, throws (or with truncate, returns what fit). */
async function readBody(res: Response, max: number, where: string, truncate = false): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  const tooLarge = () => new PermanentJobError(`KicksDB response for ${where} is larger than ${max} bytes; lower KICKSDB_PAGE_SIZE`);
  if (!truncate && declared > max) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > max) {
      await reader.cancel().catch(() => {});
      if (!truncate) throw tooLarge();
      chunks.push(value.subarray(0, max - size));
      break;
    }
    size += value.byteLength;
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Typed KicksDB v3 client for one source: bare-key Authorization header, per-request
 * timeout, bounded bodies, a limiter shared by every replica, retries with backoff for
 * 429/5xx/timeouts/network errors, and per-item validation of what comes back.
 */
export class KicksdbClient {
  /** Requests sent, retries included (each one counts against the API's limit). */
  requests = 0;
  private readonly base: string;

  constructor(private readonly o: ClientOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
  }

  /** A bounded, single-line excerpt of a body for error messages; never carries the key. */
  private snippet(text: string): string {
    let s = text.slice(0, 200).replace(/\s+/g, ' ').trim();
    if (this.o.apiKey.length >= 4) s = s.split(this.o.apiKey).join('[redacted]');
    return s || '(empty body)';
  }

  async search(p: { page: number; limit: number; query?: string; newestFirst?: boolean }): Promise<SearchPage> {
    const params: Record<string, string> = { page: String(p.page), limit: String(p.limit), 'display[variants]': 'true', 'display[traits]': 'true' };
    if (p.query) params.query = p.query;
    // Incremental runs ask for the most recently updated first; the handler checks the order it gets.
    if (p.newestFirst) params.sort = 'updated_at';
    const reply = await this.get(`/v3/${this.o.source}/products`, params, 'search');
    if (reply.status === 404) throw new PermanentJobError(`KicksDB has no ${reply.where} (404): check KICKSDB_BASE_URL`);
    let body: unknown;
    try {
      body = JSON.parse(reply.text);
    } catch {
      throw new PermanentJobError(`KicksDB returned a malformed page for ${reply.where}: not JSON: "${this.snippet(reply.text)}"`);
    }
    const data = body && typeof body === 'object' ? (body as { data?: unknown }).data : undefined;
    if (!Array.isArray(data)) {
      throw new PermanentJobError(`KicksDB returned a malformed page for ${reply.where}: expected {"data": [...]}, got "${this.snippet(reply.text)}"`);
    }
    if (data.length > MAX_ITEMS_PER_PAGE) {
      throw new PermanentJobError(`KicksDB returned ${data.length} items for ${reply.where}, more than the ${MAX_ITEMS_PER_PAGE} a page may hold`);
    }
    const meta = (body as { meta?: { per_page?: unknown; total?: unknown } }).meta;
    const perPage = Number.isInteger(meta?.per_page) && (meta!.per_page as number) > 0 ? Math.min(meta!.per_page as number, p.limit) : p.limit;
    const total = Number.isInteger(meta?.total) && (meta!.total as number) >= 0 ? (meta!.total as number) : null;
    const products: ProductRow[] = [];
    const skipped: Skipped[] = [];
    data.forEach((item, i) => {
      const r = parseProduct(this.o.source, item, `page ${p.page} item ${i + 1}`);
      if ('product' in r) products.push(r.product);
      else skipped.push(r.skipped);
    });
    return { where: reply.where, products, skipped, items: data.length, perPage, total };
  }

  /** One product with its variants; a 404 or malformed answer skips the product, not the page. */
  async detail(id: string): Promise<{ product: ProductRow } | { skipped: Skipped }> {
    // URL resolution drops "." and ".." path segments (escaped or not): the request would leave the products path.
    if (id === '.' || id === '..') return { skipped: { reason: `id "${id}" cannot be looked up (a URL path segment)`, id } };
    const reply = await this.get(`/v3/${this.o.source}/products/${encodeURIComponent(id)}`, { 'display[variants]': 'true', 'display[traits]': 'true' }, 'detail');
    if (reply.status === 404) return { skipped: { reason: 'listed by search but not found by the detail endpoint (404)', id } };
    let body: unknown;
    try {
      body = JSON.parse(reply.text);
    } catch {
      return { skipped: { reason: `malformed detail response: not JSON: "${this.snippet(reply.text)}"`, id } };
    }
    const data = body && typeof body === 'object' ? (body as { data?: unknown }).data : undefined;
    if (!data || typeof data !== 'object' || Array.isArray(data)) return { skipped: { reason: 'malformed detail response: no "data" object', id } };
    return parseProduct(this.o.source, data, `detail ${id}`);
  }

  private async get(path: string, params: Record<string, string>, endpoint: 'search' | 'detail'): Promise<Reply> {
    const { source, signal, limiter, metrics, log, maxRetries } = this.o;
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const where = `GET ${maskUrlCredentials(url.origin)}${url.pathname}${url.search}`;
    let lastProblem = '';
    for (let attempt = 0; ; attempt++) {
      const waited = await limiter.acquire(signal);
      metrics.rateLimitWait.observe({ source }, waited / 1000);
      this.requests++;
      let retryAfterMs: number | undefined;
      let rateLimited = false;
      let counted = false;
      // One limit for the answer, body included (see shared/deadline.ts).
      const limit = deadline(this.o.timeoutMs, signal);
      try {
        const res = await fetch(url, {
          headers: { authorization: this.o.apiKey, accept: 'application/json' },
          signal: limit.signal,
        });
        const quota = Number(res.headers.get('x-quota-current') ?? Number.NaN);
        if (Number.isFinite(quota)) metrics.quota.set(quota);
        metrics.requests.inc({ source, endpoint, status: statusClass(res.status) });
        counted = true;
        if (res.ok) return { status: 200, text: await readBody(res, this.o.maxBodyBytes ?? MAX_BODY_BYTES, where), where };
        const detail = this.snippet(await readBody(res, 4_096, where, true).catch(() => ''));
        if (res.status === 401) {
          throw new PermanentJobError(`KicksDB rejected the API key (401 Unauthorized) on ${where}: check KICKSDB_API_KEY. Server said: ${detail}`);
        }
        if (res.status === 403) {
          throw new PermanentJobError(`KicksDB refused access (403 Forbidden) on ${where}: the API key's plan does not include ${source} ${endpoint}. Server said: ${detail}`);
        }
        if (res.status === 404 && endpoint === 'detail') return { status: 404, where };
        if (res.status !== 429 && res.status < 500) {
          throw new PermanentJobError(`KicksDB answered ${res.status} ${res.statusText} on ${where}: ${detail}`);
        }
        rateLimited = res.status === 429;
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        lastProblem = `${res.status} ${res.statusText}${detail === '(empty body)' ? '' : `: ${detail}`}`;
      } catch (err) {
        if (err instanceof PermanentJobError) throw err;
        if (signal.aborted) throw signal.reason ?? err;
        const timedOut = limit.timedOut;
        if (!counted) metrics.requests.inc({ source, endpoint, status: timedOut ? 'timeout' : 'network' });
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
        lastProblem = timedOut ? `no complete answer within ${this.o.timeoutMs} ms` : `network error: ${errorMessage(err)}${cause}`;
      } finally {
        limit.clear();
      }
      if (attempt >= maxRetries) break;
      const delayMs = retryAfterMs !== undefined ? retryAfterMs + Math.round(Math.random() * Math.min(1_000, retryAfterMs * 0.1)) : backoffMs(attempt, this.o.retryBaseMs);
      log.warn({ where, problem: lastProblem, retry: attempt + 1, delayMs }, 'KicksDB request failed; retrying');
      // A 429 is about the whole fleet's pace: hold every replica back, not only this one.
      if (rateLimited) await limiter.pause(delayMs);
      await sleep(delayMs, signal);
    }
    throw new Error(`KicksDB ${where} failed ${maxRetries + 1} time(s); last: ${lastProblem}. The job retries from its last committed page.`);
  }
}
