import { z } from 'zod';
import { defineJob } from '../../shared/job.ts';
import { runIntegrityRepair } from './handler.ts';
import { checkNames } from './checks/index.ts';

export const integrityRepairSchema = z.strictObject({
  /** Report what each check finds; change nothing. */
  dryRun: z.boolean().default(false),
  /** Checks to run, by name; all of them when omitted. */
  checks: z.array(z.string().max(64)).min(1).max(50).optional().superRefine((names, ctx) => {
    const unknown = [...new Set(names ?? [])].filter((n) => !checkNames.includes(n));
    if (unknown.length > 0) {
      // Names the first few, each cut to the longest valid length: the message stays short whatever was sent.
      const named = unknown.slice(0, 5).map((n) => `"${n.slice(0, 64)}"`).join(', ') + (unknown.length > 5 ? ` (+${unknown.length - 5} more)` : '');
      ctx.addIssue({ code: 'custom', message: `unknown check${unknown.length > 1 ? 's' : ''} ${named}. Valid checks: ${checkNames.join(', ')}` });
    }
  }),
  /** Orphaned order items and variants are deleted (audited) instead of only reported. */
  removeOrphans: z.boolean().default(false),
  /** Entities repaired per transaction: bounds how long a repair holds row locks. */
  batchSize: z.number().int().min(1).max(50_000).default(250),
});
export type IntegrityRepairPayload = z.output<typeof integrityRepairSchema>;

export default defineJob({
  name: 'integrity-repair',
  description: 'Detect and repair data-integrity faults (SPEC §8), with dry-run and an audit row per repair',
  schema: integrityRepairSchema,
  handler: runIntegrityRepair,
  // One run at a time per process; per-check advisory locks keep replicas from overlapping.
  concurrency: 1,
  options: { attempts: 3, backoff: { type: 'exponential', delay: 30_000 } },
  timeoutMs: 60 * 60_000,
  // Daily repairs at 02:30 (SPEC §10); orphans are reported, not removed, unless configured.
  schedules: [{ cron: '30 2 * * *' }],
});
