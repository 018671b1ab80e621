import type { z } from 'zod';
import type { JobsOptions } from 'bullmq';
import type { Logger } from './logger.ts';
import type { Pool } from './db.ts';
import type { S3Client } from './s3.ts';
import type { Redis } from './redis.ts';
import type { Config } from './config.ts';

/** What a handler gets: everything it may touch, bound to this one job. */
export interface JobContext {
  /**
   * firstRun: this is attempt 1 and no earlier worker started it (a job that stalls or loses
   * its lock is started again under the same attempt). Work a previous run may have left
   * half done can only exist when it is false.
   */
  job: { id: string; queue: string; attempt: number; enqueuedBy: string; timestamp: number; firstRun: boolean };
  log: Logger;
  db: Pool;
  s3: S3Client;
  /** A shared non-blocking Redis connection for locks, limiters and counters. */
  redis: Redis;
  config: Config;
  /** Fires when the process shuts down or the job's time is up; long work must watch it. */
  signal: AbortSignal;
  /** Reports progress: a number (0-100) or { done, total } for a bar. */
  progress(value: number | { done: number; total?: number; [k: string]: unknown }): Promise<void>;
  /** Queues a follow-up job by name; its payload is validated like any other. */
  enqueue(job: string, payload: unknown, options?: EnqueueOptions): Promise<string>;
  /** Extra detail for the audit row (job_runs.detail), e.g. the full list of rejected rows. */
  audit(detail: unknown): void;
}

export interface EnqueueOptions {
  jobId?: string;
  delay?: number;
  priority?: number;
  enqueuedBy?: string;
}

export interface Schedule {
  /** cron expression (5 or 6 fields), evaluated in SCHEDULE_TIMEZONE (UTC by default). */
  cron: string;
  /** Payload for scheduled runs; validated at start. */
  payload?: unknown;
  /** Schedule name; defaults to the job name. */
  name?: string;
}

export interface JobDefinition<S extends z.ZodType = z.ZodType, R = unknown> {
  /** Job and queue name (one queue per job). */
  name: string;
  description: string;
  schema: S;
  handler: (payload: z.output<S>, ctx: JobContext) => Promise<R>;
  /** Defaults for every job of this queue; merged over the host's defaults. */
  options?: JobsOptions;
  /** Jobs run at once per worker process [1]. */
  concurrency?: number;
  /** How long a job may hold its lock between renewals before it counts as stalled [WORKER_LOCK_DURATION_MS]. */
  lockDurationMs?: number;
  /** Hard limit for one attempt; the signal fires then and the attempt fails [none]. */
  timeoutMs?: number;
  /** Default schedules (SPEC §10); overridable by configuration. */
  schedules?: Schedule[];
}

/** Declares a job; the identity function keeps the payload type inferred from the schema. */
export function defineJob<S extends z.ZodType, R>(def: JobDefinition<S, R>): JobDefinition<S, R> {
  if (!/^[a-z][a-z0-9-]{1,62}$/.test(def.name)) throw new Error(`Job name "${def.name}" must be kebab-case`);
  return def;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds jobs of many payload types
export type AnyJob = JobDefinition<z.ZodType, unknown>;

export { isStorableText, STORABLE_TEXT } from './text.ts';

/** What travels in a BullMQ job's data: the validated payload plus who asked for it. */
export interface JobEnvelope { payload: unknown; enqueuedBy: string }

/** Host defaults: a few retries with exponential backoff, and bounded retention. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1_000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 5_000 },
};
