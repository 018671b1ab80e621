import type { Pool, PoolClient } from './db.ts';

export interface HeldLock { release(): Promise<void> }

/**
 * Takes a session advisory lock on a dedicated pooled connection, polling so the wait obeys
 * the job's signal and a deadline (a blocking pg_advisory_lock would obey neither).
 * Resolves undefined when the lock is still busy after waitMs (0: try once).
 */
export async function acquireAdvisoryLock(
  db: Pool, key: number, opts: { shared?: boolean; waitMs?: number; signal?: AbortSignal } = {},
): Promise<HeldLock | undefined> {
  const fn = opts.shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
  const unlock = opts.shared ? 'pg_advisory_unlock_shared' : 'pg_advisory_unlock';
  const client: PoolClient = await db.connect();
  const deadline = Date.now() + (opts.waitMs ?? 0);
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      const { rows } = await client.query<{ ok: boolean }>(`SELECT ${fn}($1) AS ok`, [key]);
      if (rows[0]?.ok) break;
      if (Date.now() >= deadline) {
        client.release();
        return undefined;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    client.release(true);
    throw err;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      try {
        await client.query(`SELECT ${unlock}($1)`, [key]); // lint-ignore: a constant function name
        client.release();
      } catch {
        // A connection that may still hold the lock must not go back to the pool.
        client.release(true);
      }
    },
  };
}
