import { describe, it, expect } from 'vitest';
import { useTestFleet, runJob } from '../helpers.ts';
import stockAlerts from '../../jobs/stock-alerts/index.ts';
import type { StockAlertsResult } from '../../jobs/stock-alerts/handler.ts';
import { insertItem } from './fixtures/seed.ts';

// No ALERT_WEBHOOK_URL in this file's environment.
const fleet = useTestFleet();

describe('stock-alerts without a webhook', () => {
  it('records alerts, leaves them unnotified and says so in the result', async () => {
    expect(fleet.config.alertWebhookUrl).toBeUndefined();
    const low = await insertItem(fleet.db, { quantity: 2 });
    const host = await fleet.startWorkers([stockAlerts]);
    try {
      const first = await runJob(fleet, 'stock-alerts', {});
      expect(first.state).toBe('completed');
      expect(first.result as StockAlertsResult).toMatchObject({ opened: 1, open: 1, notified: 0, pending: 1, webhook: 'not-configured' });
      const { rows } = await fleet.db.query('SELECT inventory_id::int AS item, status, notified_at, notified_level FROM stock_alerts');
      expect(rows).toEqual([{ item: low, status: 'open', notified_at: null, notified_level: null }]);
      // Still pending on the next run, still not duplicated.
      const second = await runJob(fleet, 'stock-alerts', {});
      expect(second.result as StockAlertsResult).toMatchObject({ opened: 0, open: 1, pending: 1, webhook: 'not-configured' });
    } finally {
      await host.close();
    }
  });
});
