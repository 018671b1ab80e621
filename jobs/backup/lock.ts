import type { Pool, PoolClient } from '../../shared/db.ts';

// Session advisory locks held on a dedicated connection for a whole run. If the worker
// dies (even SIGKILL) its connection closes and PostgreSQL releases the lock, so whoever
// takes the lock next knows every 'running' backup row it sees belongs to a dead run.
export const EXPORT_LOCK = 7_311_942_070;
export const VERIFY_LOCK = 7_311_942_071;

export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

export interface HeldLock { client: PoolClient; release(): Promise<void> }

export async function takeLock(db: Pool, key: number, what: string): Promise<HeldLock> {
  const client = await db.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
    if (!rows[0]!.ok) throw new LockBusyError(`another ${what} is running on this database; this attempt will be retried`);
  } catch (err) {
    client.release();
    throw err;
  }
  let released = false;
  return {
    client,
    release: async () => {
      if (released) return;
      released = true;
      try {
        await client.query('SELECT pg_advisory_unlock($1)', [key]);
        client.release();
      } catch (err) {
        // A broken connection must not go back to the pool; closing it drops the lock anyway.
        client.release(err as Error);
      }
    },
  };
}
