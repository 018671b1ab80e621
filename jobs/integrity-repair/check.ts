import type { PoolClient } from '../../shared/db.ts';

// The shape of one integrity check (SPEC §8). Each lives in checks/<name>.ts with its own
// detect and repair SQL, both set-based. The runner (handler.ts) owns transactions, the
// advisory lock, batching and the result; a check only knows its SQL.
//
// A repair runs in two steps: one read-only pass lists the targets (ids, usually), then
// batches of targets are repaired, each in its own short transaction. The repair statement
// re-checks the fault under FOR [NO KEY] UPDATE SKIP LOCKED: a row fixed meanwhile is left
// alone, a row an ordinary update holds is skipped (and found again by the next run)
// instead of waited for. NO KEY where the row is updated, not deleted: inserts that
// reference it (reservations, alerts) are not blocked. Reaching rows through
// `id = ANY($ids)` keeps every batch on index lookups.

export interface CheckOptions {
  /** Orphan checks delete what they find (audited) instead of only reporting it. */
  removeOrphans: boolean;
}

export interface RepairBatch {
  client: PoolClient;
  /** integrity_audit.check_name */
  check: string;
  /** integrity_audit.job_id */
  jobId: string;
  /** Rows of targetsSql, at most batchSize of them. */
  targets: Record<string, string>[];
}

/** Counters of one detect or repair statement: `found`/`repaired` plus check-specific extras. */
export type Counts = Record<string, number>;

export interface Check {
  name: string;
  /** One line for humans: what is wrong and what the repair does. */
  description: string;
  /** Repairs change inventory quantities or status, so stock-alerts runs after them. */
  touchesInventory: boolean;
  /** One row of integer columns: `found` (what a repair would fix) and any extras. Read-only. */
  detectSql: string;
  /** Up to 20 ids of what was found, for checks that may only report. Read-only. */
  sampleSql?: string;
  /** The units a repair works on, at most $1 of them (column `id` unless the check says otherwise). Read-only. */
  targetsSql: string;
  /** `found` is exactly the number of targets: a repairing run lists them and skips detectSql. */
  foundIsTargetCount?: boolean;
  /** The repair statement when it is one ($1 job id, $2 target ids, $3 check name); see singleStatement. */
  repairSql?: string;
  /** false: this run reports what it finds and changes nothing (e.g. orphans by default). */
  repairs(options: CheckOptions): boolean;
  /**
   * Repairs one batch of targets inside the runner's transaction and writes one
   * integrity_audit row per repaired entity; returns `repaired` plus any extras.
   */
  repairBatch(batch: RepairBatch): Promise<Counts>;
}

/**
 * A repair that is one SQL statement with parameters $1 = job id, $2 = target ids
 * (bigint[]), $3 = check name, returning one row with `repaired` and optional extras.
 */
export function singleStatement(sql: string): Check['repairBatch'] {
  return async ({ client, check, jobId, targets }) => {
    const { rows } = await client.query<Counts>(sql, [jobId, targets.map((t) => t.id), check]);
    return rows[0] ?? { repaired: 0 };
  };
}

export const always = (): boolean => true;
