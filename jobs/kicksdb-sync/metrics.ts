import { counter, gauge, histogram } from '../../shared/metrics.ts';

/** KicksDB client metrics; labels are fixed sets (source, endpoint, status class). */
export function kicksdbMetrics() {
  return {
    requests: counter<'source' | 'endpoint' | 'status'>({
      name: 'fleet_kicksdb_requests_total',
      help: 'KicksDB API requests by source, endpoint (search, detail) and status (2xx, 401, 403, 404, 429, 4xx, 5xx, timeout, network)',
      labelNames: ['source', 'endpoint', 'status'],
    }),
    quota: gauge({
      name: 'fleet_kicksdb_quota_current',
      help: 'Requests used of the API key quota, as last reported by KicksDB in X-Quota-Current',
    }),
    rateLimitWait: histogram<'source'>({
      name: 'fleet_kicksdb_rate_limit_wait_seconds',
      help: 'Time a request waited for the shared client-side rate limit',
      labelNames: ['source'],
      buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    skipped: counter<'source'>({
      name: 'fleet_kicksdb_items_skipped_total',
      help: 'Malformed or missing KicksDB items skipped by the sync',
      labelNames: ['source'],
    }),
  };
}

export type KicksdbMetrics = ReturnType<typeof kicksdbMetrics>;
