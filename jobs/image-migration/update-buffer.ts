// Row updates gathered and written a batch at a time (one UPDATE per table per flush).
// Only images whose every variant is already uploaded enter the buffer, so a crash loses at
// most a batch of finished work — never leaves a row pointing at a missing object.
import type { Pool } from '../../shared/db.ts';
import type { ImageTable } from '../../shared/image-keys.ts';
import { markMigrated, recordFailures, type FailureRow, type MigratedRow } from './queries.ts';

const FLUSH_ROWS = 25;
const FLUSH_MS = 1_000;

export class UpdateBuffer {
  private rows = new Map<ImageTable, MigratedRow[]>();
  private failures: FailureRow[] = [];
  private pending = 0;
  private lastFlush = Date.now();
  private chain: Promise<void> = Promise.resolve();
  private error: unknown;
  /** Dry runs: images that would have been migrated. */
  wouldMigrate = 0;

  constructor(
    private readonly db: Pool,
    private readonly dryRun: boolean,
    private readonly onApplied: (table: ImageTable, id: string, applied: boolean) => void,
  ) {}

  migrated(table: ImageTable, row: MigratedRow): void {
    if (this.dryRun) { this.wouldMigrate++; return; }
    const list = this.rows.get(table) ?? [];
    list.push(row);
    this.rows.set(table, list);
    this.added();
  }

  failed(f: FailureRow): void {
    if (this.dryRun) return;
    this.failures.push(f);
    this.added();
  }

  private added(): void {
    this.pending++;
    if (this.pending >= FLUSH_ROWS || Date.now() - this.lastFlush >= FLUSH_MS) void this.flush();
  }

  private flush(): Promise<void> {
    const rows = this.rows;
    const failures = this.failures;
    this.rows = new Map();
    this.failures = [];
    this.pending = 0;
    this.lastFlush = Date.now();
    this.chain = this.chain.then(async () => {
      if (this.error !== undefined) return;
      try {
        for (const [table, list] of rows) {
          const applied = await markMigrated(this.db, table, list);
          for (const r of list) this.onApplied(table, r.id, applied.has(r.id));
        }
        await recordFailures(this.db, failures);
      } catch (err) {
        this.error = err;
      }
    });
    return this.chain;
  }

  /** Writes what is left; throws the first write error, if any. */
  async close(): Promise<void> {
    await this.flush();
    if (this.error !== undefined) throw this.error;
  }
}
