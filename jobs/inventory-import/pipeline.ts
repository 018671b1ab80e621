// Keeps PostgreSQL and the parser busy at the same time: while one batch is copied into
// staging and merged, the next one fills. Two batch buffers take turns (one in flight, one
// filling), so memory stays flat; the parser waits only when PostgreSQL is the slower side.
import type { PoolClient } from '../../shared/db.ts';
import { copyBatch, Batch } from './copy.ts';
import { clearBatch, mergeBatch, mergeRepeats } from './queries.ts';

export interface CategoryTotals { items: number; units: number; value: number }

export interface MergeTotals {
  inserted: number;
  updated: number;
  unchanged: number;
  movements: number;
  byCategory: Record<string, CategoryTotals>;
}

/** Exact money sums: numeric text from PostgreSQL → integer cents. */
function cents(text: string): number {
  const negative = text.startsWith('-');
  const [units = '0', frac = ''] = (negative ? text.slice(1) : text).split('.');
  const value = Number(units) * 100 + Number(frac.padEnd(2, '0').slice(0, 2));
  return negative ? -value : value;
}

export class MergePipeline {
  private inflight: Promise<void> = Promise.resolve();
  private spare = new Batch();
  private readonly actions = { inserted: 0, updated: 0, unchanged: 0, movements: 0 };
  private readonly categories = new Map<string, { items: number; units: number; cents: number }>();
  batches = 0;
  /** Time the parser spent waiting for PostgreSQL: high means the database is the slower side. */
  waitMs = 0;

  constructor(private readonly client: PoolClient, private readonly sourceJob: string) {}

  private addCategory(name: string, items: number, units: number, value: string): void {
    const c = this.categories.get(name) ?? { items: 0, units: 0, cents: 0 };
    c.items += items; c.units += units; c.cents += cents(value);
    this.categories.set(name, c);
  }

  /** A batch to fill. */
  firstBatch(): Batch {
    return new Batch();
  }

  /**
   * Starts merging a full batch once the previous one is done, and hands back the other
   * buffer to fill meanwhile. A failure surfaces at the next call.
   */
  async submit(batch: Batch): Promise<Batch> {
    const started = performance.now();
    await this.inflight;
    this.waitMs += performance.now() - started;
    this.batches++;
    this.inflight = this.run(batch);
    this.inflight.catch(() => {}); // observed by the next submit() or finish()
    const next = this.spare;
    this.spare = batch;
    next.clear();
    return next;
  }

  private async run(batch: Batch): Promise<void> {
    await clearBatch(this.client);
    await copyBatch(this.client, 'import_batch', batch);
    const rows = await mergeBatch(this.client, this.sourceJob);
    for (const r of rows) {
      this.addCategory(r.category, r.items, r.units, r.value);
      this.actions.unchanged += r.items;
    }
    const first = rows[0];
    if (first) {
      this.actions.inserted += first.inserted;
      this.actions.updated += first.updated;
      this.actions.unchanged -= first.inserted + first.updated;
      this.actions.movements += first.moved;
    }
  }

  /** Waits for the last batch, merges the repeats, and returns what the import did. */
  async finish(): Promise<MergeTotals> {
    await this.inflight;
    for (const d of await mergeRepeats(this.client, this.sourceJob)) {
      if (d.kind === 'category') this.addCategory(d.name, d.items, d.units, d.value);
      else if (d.name in this.actions) this.actions[d.name as keyof typeof this.actions] += d.items;
    }
    const byCategory: Record<string, CategoryTotals> = {};
    for (const name of [...this.categories.keys()].sort()) {
      const c = this.categories.get(name)!;
      if (c.items !== 0) byCategory[name] = { items: c.items, units: c.units, value: c.cents / 100 };
    }
    return { ...this.actions, byCategory };
  }

  /** Waits for whatever is in flight to end, ignoring its outcome (cleanup after a failure). */
  settle(): Promise<void> {
    return this.inflight.catch(() => {});
  }
}
