import { describe, it, expect, afterAll, beforeEach } from 'vitest';
import { useTestFleet } from '../helpers.ts';
import { startStandin } from '../fixtures/kicksdb-standin.ts';
import kicksdbSync from '../../jobs/kicksdb-sync/index.ts';
import { parseRetryAfter, backoffMs } from '../../jobs/kicksdb-sync/client.ts';
import { registry } from '../../shared/metrics.ts';
import { kicksEnv, resetCatalogue, runSync, maxInWindow } from './support.ts';

// 120 requests/min: one every 500 ms, burst 1, shared through Redis. A run of ~10 requests
// shows the spacing within seconds; a rolling minute could then never hold more than 120.
const PER_MINUTE = 120;
const standin = await startStandin({ products: 30, goatProducts: 4 });
const fleet = useTestFleet(kicksEnv(standin, { KICKSDB_REQUESTS_PER_MINUTE: String(PER_MINUTE), KICKSDB_RETRY_BASE_MS: '50' }));
afterAll(() => standin.close());

beforeEach(async () => {
  standin.reset();
  await resetCatalogue(fleet);
  fleet.config.kicksdb.apiKey = standin.apiKey;
});

const sync = (payload: Record<string, unknown>) => runSync(fleet, payload);

describe('kicksdb-sync against a failing API', () => {
  it('survives bursts of 429 and 5xx with the data complete and the shared rate never exceeded', async () => {
    standin.fail({ status: 429 });
    standin.fail({ status: 429, retryAfter: '1' });
    standin.fail({ status: 503, after: 1 });
    standin.fail({ status: 500 });
    standin.fail({ reset: true });
    standin.fail({ status: 502, endpoint: 'search' });
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'stockx', mode: 'full' });
      expect(run.state, run.failedReason).toBe('completed');
      // 4 pages (3 full, 1 empty) + 6 failed tries.
      expect(run.result).toMatchObject({ pages: 4, requests: 10, inserted: 30, variants: 450, complete: true });
      const { rows: [n] } = await fleet.db.query(`SELECT (SELECT count(*) FROM products)::int AS p, (SELECT count(*) FROM product_variants)::int AS v`);
      expect(n).toEqual({ p: 30, v: 450 });
      expect(standin.requests.map((r) => r.status)).toEqual([429, 429, 200, 503, 500, 0, 502, 200, 200, 200]);
      // Never faster than one request per 500 ms, retries included: at most 4 (+1 for
      // delivery delays) in any 2 s; an unlimited client would send its retries back to back.
      expect(maxInWindow(standin.requests, 2_000)).toBeLessThanOrEqual(5);
      const at = standin.requests.map((r) => r.at);
      expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual((at.length - 2) * 500);
      // Retry-After: 1 was honoured.
      expect(standin.requests[2]!.at - standin.requests[1]!.at).toBeGreaterThanOrEqual(1_000);
      const metrics = await registry.getSingleMetricAsString('fleet_kicksdb_requests_total');
      expect(metrics).toMatch(/fleet_kicksdb_requests_total\{source="stockx",endpoint="search",status="429"\} \d+/);
      expect(await registry.getSingleMetricAsString('fleet_kicksdb_quota_current')).toMatch(/fleet_kicksdb_quota_current \d+/);
    } finally {
      await host.close();
    }
  });

  it('fails fast and unrecoverably on 401, saying the key was rejected', async () => {
    fleet.config.kicksdb.apiKey = 'wrong-key-0123';
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'stockx', mode: 'full' });
      expect(run.state).toBe('failed');
      expect(run.attemptsMade).toBe(1);
      expect(run.failedReason).toMatch(/^KicksDB rejected the API key \(401 Unauthorized\) on GET .*\/v3\/stockx\/products\?.*: check KICKSDB_API_KEY/);
      expect(run.failedReason).not.toContain('wrong-key-0123');
      expect(standin.requests).toHaveLength(1);
    } finally {
      await host.close();
    }
  });

  it('fails fast and unrecoverably on 403, saying the plan does not include the endpoint', async () => {
    standin.denied.add('goat');
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'goat', mode: 'incremental' });
      expect(run.state).toBe('failed');
      expect(run.attemptsMade).toBe(1);
      expect(run.failedReason).toMatch(/^KicksDB refused access \(403 Forbidden\) on GET .*\/v3\/goat\/products\?.*: the API key's plan does not include goat search/);
      expect(standin.requests).toHaveLength(1);
    } finally {
      await host.close();
    }
  });

  it('fails unrecoverably when no API key is configured', async () => {
    fleet.config.kicksdb.apiKey = undefined;
    const host = await fleet.startWorkers([kicksdbSync]);
    try {
      const run = await sync({ source: 'stockx', mode: 'full' });
      expect(run.state).toBe('failed');
      expect(run.attemptsMade).toBe(1);
      expect(run.failedReason).toMatch(/KICKSDB_API_KEY is not set/);
      expect(standin.requests).toHaveLength(0);
    } finally {
      await host.close();
    }
  });

  it('reads Retry-After in seconds and as a date, and backs off exponentially with jitter', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter(new Date(10_000 + 5_000).toUTCString(), 10_000)).toBe(5_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('999999')).toBe(300_000);
    for (let attempt = 0; attempt < 12; attempt++) {
      const d = backoffMs(attempt, 1_000);
      const exp = Math.min(60_000, 1_000 * 2 ** attempt);
      expect(d).toBeGreaterThanOrEqual(exp / 2);
      expect(d).toBeLessThanOrEqual(exp);
    }
  });
});
