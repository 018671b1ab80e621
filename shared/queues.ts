import { Queue, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import type { Redis } from './redis.ts';
import { DEFAULT_JOB_OPTIONS, type AnyJob, type EnqueueOptions, type JobEnvelope } from './job.ts';
import { PayloadError } from './errors.ts';

/** Validates a payload against a job's schema; throws PayloadError naming each bad field. */
export function validatePayload(job: AnyJob, payload: unknown): unknown {
  // No payload means the defaults; an explicit null is a mistake worth reporting.
  const parsed = job.schema.safeParse(payload === undefined ? {} : payload);
  if (parsed.success) return parsed.data;
  throw new PayloadError(job.name, parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
}

/**
 * A name as typed, for an error message: quoted, cut to 100 characters, and with control and
 * invisible characters escaped, so a pasted newline or terminal escape cannot forge output.
 */
export function quoteName(name: string): string {
  const cut = name.length > 100 ? `${name.slice(0, 100)}…` : name;
  return JSON.stringify(cut).replace(/\p{C}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A custom job id (API `jobId`, CLI `--job-id`): BullMQ refuses all-digit ids and ':'. */
export const customJobId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-" only')
  .refine((v) => !/^\d+$/.test(v), 'must not be all digits');

export class UnknownJobError extends Error {
  constructor(name: string, known: string[]) {
    super(`Unknown job ${quoteName(name)}. Valid jobs: ${known.join(', ')}`);
    this.name = 'UnknownJobError';
  }
}

export function jobOptions(job: AnyJob): JobsOptions {
  return { ...DEFAULT_JOB_OPTIONS, ...job.options };
}

/**
 * The one way into the queues (CLI, HTTP API, schedules, follow-up jobs): checks the job
 * name and payload at the edge, then adds the job with that queue's default options.
 */
export class Producer {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly jobs: ReadonlyMap<string, AnyJob>,
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  job(name: string): AnyJob {
    const job = this.jobs.get(name);
    if (!job) throw new UnknownJobError(name, [...this.jobs.keys()]);
    return job;
  }

  get jobNames(): string[] {
    return [...this.jobs.keys()];
  }

  queue(name: string): Queue {
    const job = this.job(name);
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix, defaultJobOptions: jobOptions(job) });
      queue.on('error', () => {}); // surfaced by the failing call
      this.queues.set(name, queue);
    }
    return queue;
  }

  async enqueue(name: string, payload: unknown, options: EnqueueOptions = {}): Promise<string> {
    const job = this.job(name);
    const valid = validatePayload(job, payload);
    const { enqueuedBy = 'admin', ...rest } = options;
    const envelope: JobEnvelope = { payload: valid, enqueuedBy };
    const added = await this.queue(name).add(name, envelope, rest);
    return added.id!;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
