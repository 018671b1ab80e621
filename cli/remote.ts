import type { Io } from './command.ts';
import { UsageError } from './command.ts';

// Talking to a running fleet over its admin API (`--remote <url> --token <t>`, or
// FLEET_REMOTE_URL / FLEET_TOKEN) instead of straight to Redis.

export interface Remote { url: string; token: string }

/** parseArgs options every remote-capable command accepts. */
export const remoteOptions = { remote: { type: 'string' }, token: { type: 'string' } } as const;

export const REMOTE_HELP = `  --remote    the fleet's HTTP address, e.g. https://fleet.example.com [FLEET_REMOTE_URL]
  --token     an admin token (fleet admin create-token) [FLEET_TOKEN; prefer the variable:
              arguments show up in the process list]`;

/** The remote to use, if any: flags win over the environment. */
export function remoteFrom(values: { remote?: string; token?: string }, io: Io): Remote | undefined {
  const url = values.remote ?? io.env.FLEET_REMOTE_URL;
  const token = values.token ?? io.env.FLEET_TOKEN;
  if (!url) {
    if (values.token) throw new UsageError('--token needs --remote (or FLEET_REMOTE_URL)');
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--remote / FLEET_REMOTE_URL is not a valid URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError('--remote / FLEET_REMOTE_URL must be an http(s) URL');
  if (!token) throw new UsageError('--remote needs a token: --token <t> or FLEET_TOKEN');
  if (parsed.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname)) {
    io.err(`warning: sending an admin token over plain http to ${parsed.host}; use https`);
  }
  return { url: parsed.toString().replace(/\/$/, ''), token };
}

export class RemoteError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'RemoteError';
  }
}

/** One API call; an error response becomes a RemoteError carrying the API's own message. */
export async function api<T>(remote: Remote, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${remote.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${remote.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new Error(`Cannot reach the fleet at ${remote.url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: { path: string; message: string }[] } } | undefined)?.error;
    const details = e?.details?.length ? `\n${e.details.map((d) => `  - ${d.path}: ${d.message}`).join('\n')}` : '';
    throw new RemoteError(res.status, e?.code ?? 'http_error', `${e?.message ?? `HTTP ${res.status}`}${details}`);
  }
  return json as T;
}

interface RemoteJob { state: string; progress: unknown; result: unknown; failedReason: string | null }

/** `fleet enqueue --remote`: POST the job; with --wait, poll its state until it finishes. */
export async function enqueueRemote(remote: Remote, io: Io, opts: {
  job: string; payload: unknown; jobId?: string; wait?: boolean; timeoutS?: number; onProgress: (p: unknown) => void;
}): Promise<number> {
  const path = `/api/jobs/${encodeURIComponent(opts.job)}`;
  const { id } = await api<{ id: string }>(remote, 'POST', path, { payload: opts.payload, ...(opts.jobId ? { jobId: opts.jobId } : {}) });
  if (!opts.wait) {
    io.out(JSON.stringify({ job: opts.job, id }));
    return 0;
  }
  io.err(`enqueued ${opts.job} job ${id} on ${remote.url}; waiting…`);
  const deadline = opts.timeoutS === undefined ? Infinity : Date.now() + opts.timeoutS * 1000;
  let delay = 250;
  for (;;) {
    const job = await api<RemoteJob>(remote, 'GET', `${path}/${encodeURIComponent(id)}`);
    if (job.state === 'completed') {
      if (io.isTTY) process.stderr.write('\r\x1b[K');
      io.out(JSON.stringify(job.result ?? null));
      return 0;
    }
    if (job.state === 'failed') {
      if (io.isTTY) process.stderr.write('\r\x1b[K');
      io.err(`${opts.job} job ${id} failed: ${job.failedReason ?? 'no reason given'}`);
      return 1;
    }
    opts.onProgress(job.progress);
    if (Date.now() + delay > deadline) {
      io.err(`gave up waiting after ${opts.timeoutS} s; job ${id} is still queued or running`);
      return 3;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2_000);
  }
}
