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

/** Issues named in a PayloadError's message; `issues` keeps them all. */
const MESSAGE_ISSUES = 10;

/**
 * The payload did not match the job's schema; the message names the bad fields (the first
 * MESSAGE_ISSUES: 10,000 bad ids must not make a 500 kB failure reason).
 */
export class PayloadError extends PermanentJobError {
  constructor(readonly job: string, readonly issues: { path: string; message: string }[]) {
    const named = issues.slice(0, MESSAGE_ISSUES).map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    super(`Invalid payload for ${job}: ${named}${issues.length > MESSAGE_ISSUES ? ` (+${issues.length - MESSAGE_ISSUES} more)` : ''}`);
    this.name = 'PayloadError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
