// A generated export big enough for several merge batches, with items re-bought across
// batches, checked against what the generator says should land (an oracle that shares no
// code with the job).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { useTestFleet } from '../helpers.ts';
import inventoryImport from '../../jobs/inventory-import/index.ts';
import { writeExport, type GenerateStats } from '../../bench/generators/aliexpress.ts';
import { fixture, removeFixtures, runImport, importOk, snapshot } from './support.ts';
import fs from 'node:fs/promises';

const fleet = useTestFleet();
let file: string;
let stats: GenerateStats;

beforeAll(async () => {
  file = await fixture('bulk.json', '');
  // 60k items: several merge batches, and repeats that cross batch boundaries.
  stats = await writeExport(file, { items: 60_000, seed: 42, collectExpected: true });
});
afterAll(removeFixtures);

describe('inventory-import, bulk', () => {
  it('lands exactly what the generator expects, then a re-import changes nothing', async () => {
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const result = await importOk(fleet, { source: { path: file } });
      expect(result).toMatchObject({
        items: stats.items, inserted: stats.distinctRows, updated: 0, unchanged: 0,
        rejected: stats.rejectedItems, skippedCancelled: stats.cancelledItems, movements: 0,
      });
      expect(stats.landedItems - stats.distinctRows).toBeGreaterThan(1_000); // many re-bought items
      const { rows } = await fleet.db.query(`SELECT external_id, variant_key, category, unit_price::text, quantity FROM inventory`);
      const landed = new Map(rows.map((r) => [`${r.external_id}\u0000${r.variant_key}`, r]));
      expect(landed.size).toBe(stats.expected!.size);
      for (const [key, e] of stats.expected!) {
        expect(landed.get(key), key).toEqual({
          external_id: e.itemId, variant_key: e.variantKey, category: e.category, unit_price: (e.unitPriceCents / 100).toFixed(2), quantity: e.quantity,
        });
      }
      const units = [...stats.expected!.values()].reduce((n, e) => n + e.quantity, 0);
      expect(Object.values(result.byCategory).reduce((n, c) => n + c.units, 0)).toBe(units);

      const before = await snapshot(fleet);
      const again = await importOk(fleet, { source: { path: file } });
      expect(again).toMatchObject({ inserted: 0, updated: 0, unchanged: stats.distinctRows, movements: 0 });
      expect(again.byCategory).toEqual(result.byCategory);
      expect(await snapshot(fleet)).toEqual(before);
    } finally {
      await host.close();
    }
  });

  it('leaves no trace when the file turns out truncated after batches were already merged', async () => {
    const before = await snapshot(fleet);
    const text = await fs.readFile(file, 'utf8');
    const truncated = await fixture('truncated.json', text.slice(0, text.length - 5_000).replace(/1005006/g, '2005006'));
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const run = await runImport(fleet, { source: { path: truncated } });
      expect(run.state).toBe('failed');
      expect(run.failedReason).toMatch(/truncated|not valid JSON/);
      expect(await snapshot(fleet)).toEqual(before);
    } finally {
      await host.close();
    }
  });
});
