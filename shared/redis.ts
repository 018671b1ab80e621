import type { Socket } from 'node:net';
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
 * Their commands leave in one write per event-loop turn (coalesceWrites).
 */
export function workerConnection(url: string, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: false,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
    ...extra,
  });
  redis.on('error', () => {});
  return coalesceWrites(redis);
}

const coalesced = new WeakSet<Socket>();

/**
 * Sends all the commands one event-loop turn gives this connection in one write. ioredis
 * writes each command to its socket at once, one syscall each; a worker at concurrency 100
 * finishes and fetches dozens of jobs per turn, and those syscalls were a tenth of its CPU
 * (bench/queue.ts). The socket is corked at a turn's first write and uncorked once the
 * turn's callbacks and promises have run, so the commands leave together in one writev:
 * the same commands in the same order, in fewer TCP segments, which Redis also reads in
 * fewer calls. Applies to every socket the connection opens, reconnects included.
 */
export function coalesceWrites(redis: Redis): Redis {
  const patch = () => {
    const socket = (redis as unknown as { stream?: Socket }).stream;
    if (!socket || coalesced.has(socket)) return;
    coalesced.add(socket);
    const write = socket.write;
    let corked = false;
    const uncork = () => {
      corked = false;
      socket.uncork();
    };
    socket.write = function (this: Socket, ...args: unknown[]): boolean {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as Socket['write'];
  };
  redis.on('connect', patch);
  patch(); // already connected
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
