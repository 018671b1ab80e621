// Shared by the inventory-import tests: fixture files, running the job, and snapshots of
// what it wrote, compared as plain data.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { runJob, type TestFleet } from '../helpers.ts';
import type { ImportResult } from '../../jobs/inventory-import/handler.ts';

let dir: string | undefined;

/** Writes a fixture (an object is serialized as JSON) to a file only this test run uses. */
export async function fixture(name: string, content: unknown): Promise<string> {
  dir ??= await fs.mkdtemp(path.join(os.tmpdir(), 'fleet-import-test-'));
  const file = path.join(dir, name);
  await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

export async function removeFixtures(): Promise<void> {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
}

export interface ImportRun { id: string; state: string; result: ImportResult; failedReason?: string; attemptsMade: number }

export async function runImport(fleet: TestFleet, payload: unknown, timeoutMs = 60_000): Promise<ImportRun> {
  const run = await runJob(fleet, 'inventory-import', payload, { timeoutMs });
  return run as ImportRun;
}

export async function importOk(fleet: TestFleet, payload: unknown): Promise<ImportResult> {
  const run = await runImport(fleet, payload);
  if (run.state !== 'completed') throw new Error(`import failed: ${run.failedReason}`);
  return run.result;
}

/** Everything an import may touch, in a stable order. */
export async function snapshot(fleet: TestFleet) {
  const inventory = await fleet.db.query(`
    SELECT external_id, variant_key, title, category, unit_price::text, quantity, reserved_quantity, status::text,
           attributes, store_name, image_url, updated_at
    FROM inventory ORDER BY external_id, variant_key`);
  const movements = await fleet.db.query(`
    SELECT i.external_id, i.variant_key, m.delta, m.quantity_after, m.reason, m.source_job
    FROM stock_movements m JOIN inventory i ON i.id = m.inventory_id ORDER BY m.id`);
  return { inventory: inventory.rows, movements: movements.rows };
}

export const order = (items: unknown[], extra: Record<string, unknown> = {}) => ({
  orderId: '8190000000000001', orderDate: '2025-07-14', status: 'Completed', storeName: 'Yiwu Findings Store', ...extra, items,
});

export const item = (itemId: string, extra: Record<string, unknown> = {}) => ({
  itemId, title: 'Moon Star Pendant', price: '$1.00', quantity: 1, ...extra,
});
