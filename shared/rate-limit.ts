import type { Redis } from './redis.ts';

/**
 * A request-rate limit shared by every process that uses the same Redis key: GCRA (the
 * "generic cell rate algorithm", a token bucket kept as one timestamp).
 *
 * Semantics: grants are spaced 60000/perMinute ms apart, with up to `burst` granted back to
 * back after an idle spell. Any window of W ms therefore holds at most
 * burst - 1 + ceil(W * perMinute / 60000) grants; with burst = 1 (the default) that is never
 * more than perMinute in any rolling minute, whatever the number of replicas. Time is Redis's
 * clock (TIME), so replicas with skewed clocks agree.
 *
 * A grant is claimed at the moment the caller goes ahead, not reserved ahead of time: a
 * caller whose timer fires late claims late, so a late wake-up can never squeeze two
 * requests closer together than the interval. Waiting callers poll at the time their turn
 * could come; ties go to whoever asks first.
 */
export interface RateLimiter {
  /** Waits until this caller may go; resolves with the milliseconds waited. */
  acquire(signal?: AbortSignal): Promise<number>;
  /** Grants nothing to anyone for `ms` from now (e.g. after the server answered 429). */
  pause(ms: number): Promise<void>;
}

export interface RateLimitOptions {
  perMinute: number;
  /** Requests that may go back to back after an idle spell [1]. */
  burst?: number;
}

// KEYS[1] holds the theoretical arrival time (TAT) in microseconds of Redis time.
// ARGV[1] = emission interval (µs), ARGV[2] = burst tolerance (µs).
// Returns 0 when granted (and moves the TAT on), else the µs until a grant could be had.
// string.format keeps full precision: tostring() of a µs epoch would use exponent notation.
const CLAIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait > 0 then return wait end
local next_tat = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return 0
`;

// ARGV[1] = pause (µs), ARGV[2] = burst tolerance (µs): pushes the TAT far enough that the
// next grant comes no sooner than now + pause.
const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
if tat < target then
  redis.call('SET', KEYS[1], string.format('%.0f', target), 'PX', math.ceil((target - now) / 1000) + 1000)
end
return 0
`;

/** Sleeps ms, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function redisRateLimiter(redis: Redis, key: string, opts: RateLimitOptions): RateLimiter {
  if (!(opts.perMinute > 0)) throw new Error(`rate limit for ${key} must be positive (got ${opts.perMinute})`);
  const burst = Math.max(1, Math.floor(opts.burst ?? 1));
  const intervalUs = Math.ceil(60_000_000 / opts.perMinute);
  const toleranceUs = (burst - 1) * intervalUs;
  return {
    async acquire(signal) {
      const started = performance.now();
      for (;;) {
        signal?.throwIfAborted();
        const waitUs = Number(await redis.eval(CLAIM, 1, key, intervalUs, toleranceUs));
        if (waitUs <= 0) return performance.now() - started;
        // Round up, and spread waiters by up to 2 ms so they do not all poll at once.
        await sleep(Math.ceil(waitUs / 1000) + Math.random() * 2, signal);
      }
    },
    async pause(ms) {
      if (ms > 0) await redis.eval(PAUSE, 1, key, Math.ceil(ms * 1000), toleranceUs);
    },
  };
}
