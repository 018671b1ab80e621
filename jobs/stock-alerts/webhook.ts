// Delivers one digest to ALERT_WEBHOOK_URL. The URL itself is a secret (Slack puts the
// credential in the path), so it never appears in errors or logs.
import { deadline } from '../../shared/deadline.ts';

export interface WebhookOptions {
  /** Attempts in total, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubled each time, with jitter, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt: connect, send and response headers. */
  timeoutMs: number;
}

/** ~4 s of retrying in total: long enough for a blip, short enough to finish the run. */
export const WEBHOOK_DEFAULTS: WebhookOptions = { attempts: 4, baseDelayMs: 500, maxDelayMs: 4_000, timeoutMs: 10_000 };

export type DeliveryResult =
  | { ok: true; attempts: number; status: number }
  | { ok: false; attempts: number; error: string };

export class WebhookError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'WebhookError';
  }
}

function describe(err: unknown): string {
  if (err instanceof WebhookError) return err.message;
  if (err instanceof Error && err.name === 'TimeoutError') return 'webhook did not answer in time';
  // undici puts the socket error (ECONNREFUSED …) in cause; it names host:port, never the path.
  const cause = (err as { cause?: { code?: string } }).cause;
  return `webhook unreachable${cause?.code ? ` (${cause.code})` : ''}`;
}

async function postOnce(url: string, body: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
  const limit = deadline(timeoutMs, signal); // see shared/deadline.ts
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'stockroom-fleet/stock-alerts' },
      body,
      redirect: 'error',
      signal: limit.signal,
    });
    // The answer is not used; drop it without buffering an unbounded body.
    await res.body?.cancel().catch(() => {});
  } finally {
    limit.clear();
  }
  if (res.ok) return res.status;
  // 4xx other than 408/429 means the URL or the payload is wrong: retrying cannot help.
  const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
  throw new WebhookError(`webhook answered HTTP ${res.status}`, retryable);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal.reason); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** POSTs the JSON body, retrying with exponential backoff; never throws for delivery problems. */
export async function deliver(url: string, payload: unknown, signal: AbortSignal, opts: WebhookOptions = WEBHOOK_DEFAULTS): Promise<DeliveryResult> {
  const body = JSON.stringify(payload);
  let error = 'not attempted';
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    try {
      const status = await postOnce(url, body, opts.timeoutMs, signal);
      return { ok: true, attempts: attempt, status };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      error = describe(err);
      if (err instanceof WebhookError && !err.retryable) return { ok: false, attempts: attempt, error };
      if (attempt < opts.attempts) {
        const delay = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (attempt - 1));
        await sleep(delay / 2 + Math.random() * (delay / 2), signal);
      }
    }
  }
  return { ok: false, attempts: opts.attempts, error };
}
