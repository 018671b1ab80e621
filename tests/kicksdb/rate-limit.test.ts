import { describe, it, expect, afterAll } from 'vitest';
import { Redis } from 'ioredis';
import { REDIS_URL, randomId } from '../helpers.ts';
import { redisRateLimiter } from '../../shared/rate-limit.ts';

// Two connections stand for two replicas: they share nothing but the Redis key.
const a = new Redis(REDIS_URL);
const b = new Redis(REDIS_URL);
const keys: string[] = [];
afterAll(async () => {
  if (keys.length) await a.del(...keys);
  a.disconnect();
  b.disconnect();
});

function key(): string {
  const k = `test-rate:${randomId()}`;
  keys.push(k);
  return k;
}

/** Grant times of n callers spread over the given limiters, all asking at once. */
async function grants(limiters: ReturnType<typeof redisRateLimiter>[], n: number): Promise<number[]> {
  const t0 = performance.now();
  const times = await Promise.all(Array.from({ length: n }, async (_, i) => {
    await limiters[i % limiters.length]!.acquire();
    return performance.now() - t0;
  }));
  return times.sort((x, y) => x - y);
}

describe('redisRateLimiter (GCRA shared through Redis)', () => {
  it('spaces grants across replicas at 60000/perMinute ms (burst 1)', async () => {
    const k = key();
    const times = await grants([redisRateLimiter(a, k, { perMinute: 600 }), redisRateLimiter(b, k, { perMinute: 600 })], 12);
    // Grant k is never before its slot, k intervals after the first (timers fire late, never early).
    times.forEach((t, k) => expect(t).toBeGreaterThanOrEqual(k * 100 - 2));
    // ...and nobody waits much longer than their turn (a loaded machine adds some).
    expect(times.at(-1)!).toBeLessThan(3_000);
  });

  it('lets a burst through back to back after an idle spell, then paces', async () => {
    const k = key();
    const times = await grants([redisRateLimiter(a, k, { perMinute: 600, burst: 4 }), redisRateLimiter(b, k, { perMinute: 600, burst: 4 })], 8);
    // Without the burst the 4th grant could not come before 300 ms.
    expect(times[3]!).toBeLessThan(250);
    // Grants 5..8 follow at 100 ms steps from the first.
    for (let i = 4; i < 8; i++) expect(times[i]!).toBeGreaterThanOrEqual((i - 3) * 100 - 2);
  });

  it('pause() holds every replica back', async () => {
    const k = key();
    await redisRateLimiter(a, k, { perMinute: 6_000 }).pause(400);
    const [t] = await grants([redisRateLimiter(b, k, { perMinute: 6_000 })], 1);
    expect(t!).toBeGreaterThanOrEqual(390);
  });

  it('stops waiting when its signal aborts', async () => {
    const k = key();
    const limiter = redisRateLimiter(a, k, { perMinute: 1 });
    await limiter.acquire();
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error('shutdown')), 50);
    await expect(limiter.acquire(ctl.signal)).rejects.toThrow('shutdown');
  });
});
