import { z } from 'zod';
import { defineJob } from '../../shared/job.ts';
import { runStockAlerts } from './handler.ts';

export const stockAlertsSchema = z.strictObject({
  /** Report what would open, escalate and resolve; change nothing, send nothing. */
  dryRun: z.boolean().default(false),
});
export type StockAlertsPayload = z.output<typeof stockAlertsSchema>;

export default defineJob({
  name: 'stock-alerts',
  description: 'Low / out-of-stock detection, alert lifecycle and one webhook digest per run',
  schema: stockAlertsSchema,
  handler: runStockAlerts,
  // One run at a time per process; across replicas a database advisory lock serialises runs.
  concurrency: 1,
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000 } },
  timeoutMs: 10 * 60_000,
  schedules: [{ cron: '*/15 * * * *' }],
});
