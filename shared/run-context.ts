import type { Job } from 'bullmq';
import type { Logger } from './logger.ts';
import type { Services } from './services.ts';
import type { EnqueueOptions, JobContext } from './job.ts';

/**
 * The context one job attempt's handler gets. A class rather than an object of closures:
 * the host makes one per job, at up to 20k jobs/s, and prototype methods cost nothing to
 * create. The child logger is made only when the handler (or a failure) asks for it.
 */
export class RunContext implements JobContext {
  readonly db: Services['db'];
  readonly s3: Services['s3'];
  readonly redis: Services['redis'];
  readonly config: Services['config'];
  /** What the handler passed to audit(); the host stores it in job_runs.detail. */
  detail: unknown;
  private childLog: Logger | undefined;

  constructor(
    private readonly services: Services,
    private readonly bullJob: Job,
    private readonly queue: string,
    readonly attempt: number,
    private readonly restarted: boolean,
    readonly enqueuedBy: string,
    readonly signal: AbortSignal,
  ) {
    this.db = services.db;
    this.s3 = services.s3;
    this.redis = services.redis;
    this.config = services.config;
  }

  get job(): JobContext['job'] {
    return {
      id: this.bullJob.id!, queue: this.queue, attempt: this.attempt, enqueuedBy: this.enqueuedBy, timestamp: this.bullJob.timestamp,
      firstRun: this.attempt === 1 && !this.restarted,
    };
  }

  /** Fields every line about this attempt carries. */
  get bindings(): { queue: string; jobId: string | undefined; attempt: number } {
    return { queue: this.queue, jobId: this.bullJob.id, attempt: this.attempt };
  }

  get log(): Logger {
    return (this.childLog ??= this.services.log.child(this.bindings));
  }

  progress(value: Parameters<JobContext['progress']>[0]): Promise<void> {
    return this.bullJob.updateProgress(value);
  }

  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<string> {
    return this.services.producer.enqueue(name, payload, { enqueuedBy: `job:${this.queue}:${this.bullJob.id}`, ...options });
  }

  audit(detail: unknown): void {
    this.detail = detail;
  }
}
