import { describe, it, expect } from 'vitest';
import { useTestFleet, runJob } from '../helpers.ts';
import mvRefresh from '../../jobs/mv-refresh/index.ts';

const fleet = useTestFleet();

async function seedInventory(n: number) {
  await fleet.db.query('TRUNCATE inventory CASCADE');
  await fleet.db.query(
    `INSERT INTO inventory (external_id, variant_key, title, category, unit_price, quantity)
     SELECT 'item-' || g, '', 'Item ' || g, CASE WHEN g % 2 = 0 THEN 'Charms/Pendants' ELSE 'Chains/Bracelet Chains' END, 1.50, g % 7
     FROM generate_series(1, $1) g`, [n]);
}

describe('mv-refresh', () => {
  it('refreshes every view: plainly when unpopulated, concurrently after', async () => {
    await fleet.db.query('REFRESH MATERIALIZED VIEW low_stock_report WITH NO DATA');
    await seedInventory(100);
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const first = await runJob(fleet, 'mv-refresh', {});
      expect(first.state).toBe('completed');
      const refreshed = (first.result as { refreshed: { view: string; concurrently: boolean; ms: number }[] }).refreshed;
      expect(refreshed.map((r) => r.view).sort()).toEqual(['daily_sales_summary', 'inventory_category_summary', 'low_stock_report']);
      expect(refreshed.find((r) => r.view === 'low_stock_report')!.concurrently).toBe(false);
      expect(refreshed.find((r) => r.view === 'inventory_category_summary')!.concurrently).toBe(true);
      const { rows } = await fleet.db.query('SELECT category, items, units FROM inventory_category_summary ORDER BY category');
      expect(rows).toEqual([
        { category: 'Chains/Bracelet Chains', items: 50, units: expect.any(Number) },
        { category: 'Charms/Pendants', items: 50, units: expect.any(Number) },
      ]);
      const second = await runJob(fleet, 'mv-refresh', { views: ['low_stock_report'] });
      expect((second.result as { refreshed: { concurrently: boolean }[] }).refreshed).toEqual([
        { view: 'low_stock_report', ms: expect.any(Number), concurrently: true },
      ]);
      const audit = await fleet.db.query(`SELECT state, enqueued_by, result FROM job_runs WHERE queue = 'mv-refresh' ORDER BY id`);
      await host.close();
      const after = await fleet.db.query(`SELECT state, enqueued_by FROM job_runs WHERE queue = 'mv-refresh' ORDER BY id`);
      expect(after.rows).toEqual([{ state: 'completed', enqueued_by: 'test' }, { state: 'completed', enqueued_by: 'test' }]);
      expect(audit.rowCount).toBeGreaterThanOrEqual(0);
    } finally {
      await host.close();
    }
  });

  it('fails an unknown view at once, naming the valid ones, without retrying', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const run = await runJob(fleet, 'mv-refresh', { views: ['nope'] });
      expect(run.state).toBe('failed');
      expect(run.failedReason).toMatch(/Unknown materialized view: nope\. Valid views: daily_sales_summary, inventory_category_summary, low_stock_report/);
      expect(run.attemptsMade).toBe(1);
    } finally {
      await host.close();
    }
  });

  it('never interpolates a hostile name', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const run = await runJob(fleet, 'mv-refresh', { views: ['low_stock_report"; DROP TABLE inventory; --'] });
      expect(run.state).toBe('failed');
      const { rows } = await fleet.db.query(`SELECT to_regclass('inventory') IS NOT NULL AS present`);
      expect(rows[0].present).toBe(true);
    } finally {
      await host.close();
    }
  });

  it('rejects a bad payload at the edge, naming the field', async () => {
    await expect(fleet.services.producer.enqueue('mv-refresh', { views: 'all' })).rejects.toThrow(/Invalid payload for mv-refresh: views: .*array/i);
    await expect(fleet.services.producer.enqueue('mv-refresh', { extra: 1 })).rejects.toThrow(/Unrecognized key.*extra/i);
  });

  it('keeps a concurrent reader unblocked while refreshing CONCURRENTLY', async () => {
    await seedInventory(200_000);
    await fleet.db.query('REFRESH MATERIALIZED VIEW inventory_category_summary');
    const host = await fleet.startWorkers([mvRefresh]);
    let stop = false;
    let worst = 0;
    let reads = 0;
    let blocked = 0;
    // The reader gives up on any lock wait over 300 ms: a plain REFRESH (ACCESS EXCLUSIVE)
    // would trip it; CONCURRENTLY (EXCLUSIVE) never blocks readers. Timing alone would also
    // measure a busy machine's CPU, which is not what this test is about.
    const reader = await fleet.db.connect();
    await reader.query(`SET lock_timeout = '300ms'`);
    const reading = (async () => {
      while (!stop) {
        const t = performance.now();
        try {
          await reader.query('SELECT sum(items) FROM inventory_category_summary');
          reads++;
        } catch (err) {
          if ((err as { code?: string }).code === '55P03') blocked++; else throw err;
        }
        worst = Math.max(worst, performance.now() - t);
      }
    })();
    try {
      const run = await runJob(fleet, 'mv-refresh', { views: ['inventory_category_summary', 'low_stock_report'] });
      expect(run.state).toBe('completed');
      const refreshed = (run.result as { refreshed: { concurrently: boolean; ms: number }[] }).refreshed;
      expect(refreshed.every((r) => r.concurrently)).toBe(true);
    } finally {
      stop = true;
      await reading;
      reader.release();
      await host.close();
    }
    expect(reads).toBeGreaterThan(10);
    expect(blocked).toBe(0);
    expect(worst).toBeLessThan(5_000);
  });
});
