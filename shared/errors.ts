import { UnrecoverableError } from 'bullmq';

/**
 * A failure that retrying cannot fix (bad payload, bad credentials, a file of the wrong
 * shape). BullMQ moves the job straight to failed without spending its other attempts.
 */
export class PermanentJobError extends UnrecoverableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'PermanentJobError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The payload did not match the job's schema; the message names every bad field. */
export class PayloadError extends PermanentJobError {
  constructor(readonly job: string, readonly issues: { path: string; message: string }[]) {
    super(`Invalid payload for ${job}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'PayloadError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
