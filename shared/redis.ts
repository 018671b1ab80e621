import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

/**
 * Producers (CLI, HTTP API, enqueue from a job) fail fast when Redis is down, so the
 * caller gets an error instead of a silently queued command.
 */
export function producerConnection(url: string, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    lazyConnect: false,
    ...extra,
  });
  redis.on('error', () => {}); // reported by the command that failed; avoid unhandled 'error'
  return redis;
}

/**
 * Workers block on Redis and must keep retrying forever (BullMQ requires maxRetriesPerRequest: null).
 *
 * Each command goes to the socket as ioredis writes it. Holding a turn's commands back for
 * one write (cork until the turn ends) saved ~5 % of the CPU per job but cost throughput:
 * Redis sat idle until Node's turn was over, the two overlapped less (1.66 instead of 1.76
 * of the two cores busy), and the host did 5 % fewer jobs per second (bench/queue.ts,
 * alternating rounds in one process).
 */
export function workerConnection(url: string, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: false,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
    ...extra,
  });
  redis.on('error', () => {});
  return redis;
}

/** Deletes every key under `<prefix>:` (a queue prefix of its own; never anything else). */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
