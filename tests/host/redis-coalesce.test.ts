import { describe, it, expect } from 'vitest';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { REDIS_URL, randomId, waitFor } from '../helpers.ts';
import { workerConnection } from '../../shared/redis.ts';

// A worker's Redis connection sends the commands of one event-loop turn in one write: they
// wait in the corked socket until the turn ends, then leave together, in order.

const socketOf = (redis: Redis) => (redis as unknown as { stream: Socket }).stream;

/** Sends 50 INCRs in one turn; returns the bytes still buffered in the socket right after, and checks the replies' order. */
async function burst(redis: Redis): Promise<number> {
  const key = `coalesce-${randomId()}`;
  await redis.ping(); // connected and idle
  const pending = Array.from({ length: 50 }, () => redis.incr(key));
  const buffered = socketOf(redis).writableLength;
  expect(await Promise.all(pending)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(socketOf(redis).writableLength).toBe(0);
  await redis.del(key);
  return buffered;
}

describe('worker Redis connection', () => {
  it('sends the commands of one turn together, in order, also after a reconnect', async () => {
    const plain = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = workerConnection(REDIS_URL);
    try {
      // A plain ioredis connection hands each command to the kernel at once.
      expect(await burst(plain)).toBe(0);
      // 50 × "*2\r\n$4\r\nincr\r\n$…" wait for the end of the turn.
      expect(await burst(worker)).toBeGreaterThan(50 * 20);

      // Redis drops the connection; ioredis opens a new socket, which is coalesced too.
      const before = socketOf(worker);
      const id = await worker.client('ID');
      await plain.client('KILL', 'ID', String(id));
      await waitFor(() => worker.status === 'ready' && socketOf(worker) !== before, { what: 'the worker connection to come back' });
      expect(await burst(worker)).toBeGreaterThan(50 * 20);
    } finally {
      plain.disconnect();
      worker.disconnect();
    }
  });
});
