import type { PoolClient } from '../../shared/db.ts';

// The shape of one integrity check (SPEC §8). Each lives in checks/<name>.ts with its own
// detect and repair SQL, both set-based. The runner (handler.ts) owns transactions, the
// advisory lock, batching and the result; a check only knows its SQL.

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
  /** At most this many entities (items, groups, rows: the check says which) per batch. */
  batchSize: number;
}

/** Counters of one detect or repair statement: `found`/`repaired` plus check-specific extras. */
export type Counts = Record<string, number>;

export interface Check {
  name: string;
  /** One line for humans: what is wrong and what the repair does. */
  description: string;
  /** Repairs change inventory quantities or status, so stock-alerts runs after them. */
  touchesInventory: boolean;
  /**
   * One row of integer columns: `found` (what a repair would fix) and any extras.
   * Parameterless; read-only.
   */
  detectSql: string;
  /** Up to 20 ids of what was found, for checks that may only report. Parameterless. */
  sampleSql?: string;
  /** false: this run reports what it finds and changes nothing (e.g. orphans by default). */
  repairs(options: CheckOptions): boolean;
  /**
   * Repairs one batch inside the runner's transaction and writes one integrity_audit row
   * per repaired entity; returns `repaired` (entities fixed in this batch) and extras.
   * Rows locked by someone else are skipped (SKIP LOCKED) and left for the next batch/run.
   */
  repairBatch(batch: RepairBatch): Promise<Counts>;
}

/**
 * A repair that is one SQL statement with parameters $1 = job id, $2 = batch size,
 * $3 = check name, returning one row with `repaired` and optional extra integer columns.
 */
export function singleStatement(sql: string): Check['repairBatch'] {
  return async ({ client, check, jobId, batchSize }) => {
    const { rows } = await client.query<Counts>(sql, [jobId, batchSize, check]);
    return rows[0] ?? { repaired: 0 };
  };
}

export const always = (): boolean => true;
