import { describe, it, expect } from 'vitest';
import { fromEnv } from '../../shared/config.ts';
import { schedulesOf } from '../../workers/scheduler.ts';
import kicksdbSync from '../../jobs/kicksdb-sync/index.ts';
import type { AnyJob } from '../../shared/job.ts';

describe('kicksdb-sync configuration', () => {
  it('has documented defaults and names each bad variable', () => {
    expect(fromEnv({}).kicksdb).toEqual({
      baseUrl: 'https://api.kicks.dev', apiKey: undefined, requestsPerMinute: 640, pageSize: 100, timeoutMs: 30_000, maxRetries: 5, retryBaseMs: 1_000,
    });
    expect(() => fromEnv({ KICKSDB_PAGE_SIZE: '0' })).toThrow(/KICKSDB_PAGE_SIZE must be an integer from 1 to 1000/);
    expect(() => fromEnv({ KICKSDB_TIMEOUT_MS: 'soon' })).toThrow(/KICKSDB_TIMEOUT_MS/);
    expect(() => fromEnv({ KICKSDB_MAX_RETRIES: '-1' })).toThrow(/KICKSDB_MAX_RETRIES/);
    expect(() => fromEnv({ KICKSDB_RETRY_BASE_MS: '0' })).toThrow(/KICKSDB_RETRY_BASE_MS/);
    expect(() => fromEnv({ KICKSDB_REQUESTS_PER_MINUTE: '0' })).toThrow(/KICKSDB_REQUESTS_PER_MINUTE/);
  });

  it('schedules an incremental sync of each source every 12 hours', () => {
    expect(schedulesOf([kicksdbSync as AnyJob])).toMatchObject([
      { name: 'kicksdb-sync-stockx', job: 'kicksdb-sync', cron: '0 */12 * * *', payload: { source: 'stockx', mode: 'incremental' } },
      { name: 'kicksdb-sync-goat', job: 'kicksdb-sync', cron: '0 */12 * * *', payload: { source: 'goat', mode: 'incremental' } },
    ]);
  });
});
