import { z } from 'zod';
import { customJobId } from '../../../shared/queues.ts';

// Request shapes of the admin API: the routes parse with them, the OpenAPI document is
// generated from them, so the two cannot drift.

export const enqueueBody = z.strictObject({
  payload: z.unknown().optional().describe("The job's payload; validated against the job's schema (see components.schemas)"),
  jobId: customJobId.optional()
    .describe('Custom job id: adding the same id twice adds the job once'),
  delayMs: z.number().int().min(0).max(30 * 24 * 3600 * 1000).optional().describe('Run no earlier than this many ms from now'),
  priority: z.number().int().min(1).max(2_097_152).optional().describe('1 is the highest priority'),
});

export const jobParams = z.strictObject({ job: z.string().min(1).max(63), id: z.string().min(1).max(200) });
export const queueParams = z.strictObject({ queue: z.string().min(1).max(63) });
export const scheduleParams = z.strictObject({ name: z.string().min(1).max(63) });

export const RUN_STATES = ['active', 'completed', 'failed', 'retrying'] as const;

// Filters go to PostgreSQL as parameters: text must not hold NUL (PostgreSQL refuses it), and a
// time must not be in year 0000 (it has none): either would be a 500, not a 400.
const pgText = (max: number) => z.string().min(1).max(max).regex(/^[^\u0000]*$/, 'must not contain NUL characters');
const pgTime = z.iso.datetime({ offset: true }).refine((v) => !v.startsWith('0000-'), 'year 0000 does not exist; use 0001 or later');

export const runsQuery = z.strictObject({
  queue: pgText(63).optional().describe('Only runs of this queue'),
  state: z.enum(RUN_STATES).optional(),
  enqueuedBy: pgText(200).optional().describe('Exact enqueued_by, e.g. admin:alice or schedule:mv-refresh'),
  since: pgTime.optional().describe('Runs started at or after this time (ISO 8601)'),
  until: pgTime.optional().describe('Runs started before this time (ISO 8601)'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional().describe('Cursor: the nextBefore of the previous page'),
});

const iso = z.string().describe('ISO 8601 time');

export const jobView = z.object({
  job: z.string(), id: z.string(), name: z.string(), state: z.string(), progress: z.unknown(), attemptsMade: z.number(),
  enqueuedBy: z.string().nullable(), payload: z.unknown(), result: z.unknown(), failedReason: z.string().nullable(),
  createdAt: iso.nullable(), processedAt: iso.nullable(), finishedAt: iso.nullable(),
});

export const queueView = z.object({
  queue: z.string(), paused: z.boolean(), counts: z.record(z.string(), z.number()), globalConcurrency: z.number().nullable(),
  schedules: z.array(z.object({ name: z.string(), pattern: z.string().nullable(), next: iso.nullable() })),
});

export const scheduleView = z.object({
  name: z.string(), job: z.string(), cron: z.string(), tz: z.string(), next: iso.nullable(), intervalMs: z.number().nullable(),
  lastRun: z.object({
    state: z.string(), jobId: z.string(), enqueuedBy: z.string(), startedAt: iso, finishedAt: iso.nullable(),
    durationMs: z.number().nullable(), error: z.string().nullable(),
  }).nullable(),
  lastSuccessAt: iso.nullable(),
});

export const runView = z.object({
  id: z.number(), queue: z.string(), jobId: z.string(), attempt: z.number(), name: z.string(), enqueuedBy: z.string(),
  state: z.enum(RUN_STATES), startedAt: iso, finishedAt: iso.nullable(), durationMs: z.number().nullable(),
  result: z.unknown(), error: z.string().nullable(),
});

export const errorView = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code, e.g. unauthorized, invalid_payload, not_found'),
    message: z.string(),
    details: z.unknown().optional().describe('For 400s: [{ path, message }] for every bad field'),
  }),
});
