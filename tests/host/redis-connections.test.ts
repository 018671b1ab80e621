import { describe, it, expect } from 'vitest';
import { Redis } from 'ioredis';
import { REDIS_URL, randomId } from '../helpers.ts';
import { producerConnection, workerConnection } from '../../shared/redis.ts';

// The two kinds of Redis connection: a worker's rides out a dropped connection without
// losing a command; a producer's fails at once, so the caller can say Redis is down.

describe('Redis connections', () => {
  it('a worker connection keeps a command sent while its connection is down and runs it after the reconnect', async () => {
    const plain = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = workerConnection(REDIS_URL);
    const key = `conn-${randomId()}`;
    try {
      await worker.ping();
      const id = await worker.client('ID');
      await plain.client('KILL', 'ID', String(id));
      // Sent while the killed socket is closing or reconnecting: queued, then sent once.
      const replies = await Promise.all([worker.incr(key), worker.incr(key)]);
      expect(replies).toEqual([1, 2]);
      expect(await worker.client('ID')).not.toBe(id);
      expect(await plain.get(key)).toBe('2');
    } finally {
      await plain.del(key);
      plain.disconnect();
      worker.disconnect();
    }
  });

  it('a producer connection to an unreachable Redis fails the command within seconds instead of waiting', async () => {
    const producer = producerConnection('redis://127.0.0.1:1');
    const t = Date.now();
    try {
      await expect(producer.ping()).rejects.toThrow();
      expect(Date.now() - t).toBeLessThan(6_000);
    } finally {
      producer.disconnect();
    }
  });
});
