import type { Pool, PoolClient } from '../../shared/db.ts';

export interface MatviewInfo { name: string; populated: boolean; hasUniqueIndex: boolean }

/**
 * Materialized views of the current schema, with whether each can refresh CONCURRENTLY:
 * that needs a populated view and a unique index on plain columns with no WHERE clause.
 */
export async function listMatviews(db: Pool): Promise<MatviewInfo[]> {
  const { rows } = await db.query<{ name: string; populated: boolean; has_unique: boolean }>(
    `SELECT m.matviewname AS name, m.ispopulated AS populated,
            EXISTS (SELECT 1 FROM pg_index i
                    WHERE i.indrelid = format('%I.%I', m.schemaname, m.matviewname)::regclass
                      AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL) AS has_unique
     FROM pg_matviews m
     WHERE m.schemaname = current_schema()
     ORDER BY m.matviewname`,
  );
  return rows.map((r) => ({ name: r.name, populated: r.populated, hasUniqueIndex: r.has_unique }));
}

/** Serialises refreshes of one view across the fleet for the rest of the transaction. */
export async function lockView(client: PoolClient, view: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('mv-refresh:' || $1))`, [view]);
}

export async function setLockTimeout(client: PoolClient, ms: number): Promise<void> {
  // SET does not take parameters; set_config does, and is_local=true scopes it to the transaction.
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${ms}ms`]);
}
