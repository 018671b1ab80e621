import { z } from 'zod';
import { defineJob } from '../../shared/job.ts';
import { refreshViews } from './handler.ts';

export const mvRefreshSchema = z.strictObject({
  /** Views to refresh; all materialized views of the schema when omitted. */
  views: z.array(z.string().min(1).max(63)).max(100).optional(),
  lockTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
});
export type MvRefreshPayload = z.output<typeof mvRefreshSchema>;

export default defineJob({
  name: 'mv-refresh',
  description: 'Refresh materialized views (CONCURRENTLY when possible)',
  schema: mvRefreshSchema,
  handler: refreshViews,
  concurrency: 2,
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000 } },
  schedules: [{ cron: '*/10 * * * *' }],
});
