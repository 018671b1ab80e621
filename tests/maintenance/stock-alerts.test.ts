import { describe, it, expect, afterAll, beforeEach } from 'vitest';
import { useTestFleet, runJob } from '../helpers.ts';
import { registry } from '../../shared/metrics.ts';
import stockAlerts from '../../jobs/stock-alerts/index.ts';
import type { StockAlertsResult } from '../../jobs/stock-alerts/handler.ts';
import type { Digest } from '../../jobs/stock-alerts/digest.ts';
import { startWebhookReceiver } from '../../bench/support/webhook-receiver.ts';
import { insertItem, setStatusRaw, fingerprint } from './fixtures/seed.ts';

const hook = await startWebhookReceiver();
const fleet = useTestFleet({ ALERT_WEBHOOK_URL: hook.url });
afterAll(() => hook.close());

beforeEach(async () => {
  await fleet.db.query('TRUNCATE inventory, stock_alerts RESTART IDENTITY CASCADE');
  hook.reset();
});

async function run(payload: object = {}): Promise<StockAlertsResult> {
  const host = await fleet.startWorkers([stockAlerts]);
  try {
    const job = await runJob(fleet, 'stock-alerts', payload);
    expect(job.state, job.failedReason).toBe('completed');
    return job.result as StockAlertsResult;
  } finally {
    await host.close();
  }
}

async function setQuantity(id: number, quantity: number): Promise<void> {
  await fleet.db.query('UPDATE inventory SET quantity = $2 WHERE id = $1', [id, quantity]);
}

async function alerts() {
  const { rows } = await fleet.db.query(
    `SELECT inventory_id::int AS item, level, status, notified_level, notified_at IS NOT NULL AS notified, resolved_at IS NOT NULL AS has_resolved_at
     FROM stock_alerts ORDER BY id`);
  return rows;
}

async function gaugeValue(name: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  return (await metric?.get())?.values[0]?.value;
}

describe('stock-alerts', () => {
  it('opens one alert per low or out-of-stock active item and sends them in one digest', async () => {
    await insertItem(fleet.db, { title: 'Plenty', quantity: 10 });
    const low = await insertItem(fleet.db, { title: 'Gold <Lobster> Clasp & Co', externalId: '1005001', variantKey: 'color:gold', quantity: 2 });
    const out = await insertItem(fleet.db, { title: 'Rose Chain', quantity: 0 });
    await insertItem(fleet.db, { title: 'Retired', quantity: 1, active: false });
    const reserved = await insertItem(fleet.db, { title: 'Mostly reserved', quantity: 5, reserved: 3 });

    const first = await run();
    expect(first).toMatchObject({ opened: 3, escalated: 0, resolved: 0, open: 3, lowStock: 2, outOfStock: 1, notified: 3, pending: 0, webhook: 'sent' });
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]!.contentType).toBe('application/json');
    const digest = hook.delivered()[0] as Digest;
    expect(digest.summary).toMatchObject({ opened: 3, newAlerts: 3, escalatedAlerts: 0, lowStock: 2, outOfStock: 1, pending: 3, listed: 3 });
    // Out of stock first; titles escaped for Slack's mrkdwn.
    expect(digest.alerts[0]).toMatchObject({ inventoryId: out, level: 'out' });
    expect(digest.alerts.slice(1).map((a) => [a.inventoryId, a.level]).sort()).toEqual([[low, 'low'], [reserved, 'low']].sort());
    expect(digest.alerts.find((a) => a.inventoryId === low)).toMatchObject({ externalId: '1005001', variantKey: 'color:gold', available: 2, threshold: 3, previousLevel: null });
    expect(digest.text).toMatch(/^\*Stock alerts\*: 3 new alerts\. Now 2 low on stock, 1 out of stock\./);
    expect(digest.text).toContain('Gold &lt;Lobster&gt; Clasp &amp; Co');
    expect(await alerts()).toEqual([out, reserved, low].sort((a, b) => a - b).map((item) => expect.objectContaining({ item, status: 'open', notified: true })));
    expect(await gaugeValue('fleet_inventory_low_stock_items')).toBe(2);
    expect(await gaugeValue('fleet_inventory_out_of_stock_items')).toBe(1);

    // Nothing changed: nothing opened, nothing sent.
    const second = await run();
    expect(second).toMatchObject({ opened: 0, escalated: 0, resolved: 0, open: 3, notified: 0, webhook: 'nothing-to-send' });
    expect(hook.requests).toHaveLength(1);
  });

  it('escalates low to out and notifies again, resolves recovered items, never re-notifies a de-escalation', async () => {
    const a = await insertItem(fleet.db, { title: 'A', quantity: 2 });
    const b = await insertItem(fleet.db, { title: 'B', quantity: 0 });
    await run();
    expect(hook.delivered()).toHaveLength(1);

    await setQuantity(a, 0);
    const escalated = await run();
    expect(escalated).toMatchObject({ opened: 0, escalated: 1, open: 2, outOfStock: 2, notified: 1, webhook: 'sent' });
    const digest = hook.delivered()[1] as Digest;
    expect(digest.alerts).toEqual([expect.objectContaining({ inventoryId: a, level: 'out', previousLevel: 'low' })]);
    expect(digest.text).toMatch(/1 escalated to out of stock/);
    // Same alert row, new level.
    expect((await alerts()).filter((x) => x.item === a)).toEqual([expect.objectContaining({ level: 'out', notified_level: 'out', status: 'open' })]);

    // Out → low: the level follows, but the team already knows it is short; no digest.
    await setQuantity(b, 1);
    expect(await run()).toMatchObject({ escalated: 0, deescalated: 1, notified: 0, webhook: 'nothing-to-send' });
    expect(hook.requests).toHaveLength(2);

    await setQuantity(a, 40);
    await setQuantity(b, 40);
    const resolved = await run();
    expect(resolved).toMatchObject({ resolved: 2, open: 0, lowStock: 0, outOfStock: 0, notified: 0, webhook: 'nothing-to-send' });
    expect(await alerts()).toEqual([
      expect.objectContaining({ item: a, status: 'resolved', has_resolved_at: true }),
      expect.objectContaining({ item: b, status: 'resolved', has_resolved_at: true }),
    ]);

    // Dropping again opens a fresh alert (the old one stays resolved) and notifies it.
    await setQuantity(a, 1);
    expect(await run()).toMatchObject({ opened: 1, notified: 1, webhook: 'sent' });
    expect((await alerts()).filter((x) => x.item === a).map((x) => x.status)).toEqual(['resolved', 'open']);
    expect(hook.delivered()).toHaveLength(3);
  });

  it('keeps alerts pending through a webhook outage and sends them exactly once after recovery', async () => {
    const a = await insertItem(fleet.db, { title: 'Outage A', quantity: 1 });
    hook.mode = 'error';
    const failed = await run();
    expect(failed).toMatchObject({ opened: 1, notified: 0, pending: 1, webhook: 'failed' });
    expect(failed.webhookError).toMatch(/HTTP 500 \(after 4 attempts\)/);
    expect(failed.webhookError).not.toContain('secret-part');
    expect(hook.requests.map((r) => r.status)).toEqual([500, 500, 500, 500]);
    expect(await alerts()).toEqual([expect.objectContaining({ item: a, status: 'open', notified: false, notified_level: null })]);

    // Still down (connection dropped this time); a second item joins the pending ones.
    hook.mode = 'drop';
    const b = await insertItem(fleet.db, { title: 'Outage B', quantity: 0 });
    const stillDown = await run();
    expect(stillDown).toMatchObject({ opened: 1, notified: 0, pending: 2, webhook: 'failed' });
    expect(stillDown.webhookError).toMatch(/unreachable/);

    hook.mode = 'ok';
    const before = hook.requests.length;
    const recovered = await run();
    expect(recovered).toMatchObject({ opened: 0, notified: 2, pending: 0, webhook: 'sent' });
    expect(hook.requests.length - before).toBe(1);
    const digest = hook.delivered()[0] as Digest;
    expect(digest.alerts.map((x) => x.inventoryId).sort()).toEqual([a, b].sort());
    expect(digest.summary).toMatchObject({ opened: 0, newAlerts: 2, pending: 2 });

    expect(await run()).toMatchObject({ notified: 0, webhook: 'nothing-to-send' });
    expect(hook.delivered()).toHaveLength(1);
  });

  it('does not retry a digest the webhook rejects as malformed (4xx), and keeps it pending', async () => {
    await insertItem(fleet.db, { title: 'Rejected', quantity: 1 });
    hook.mode = 'reject';
    const result = await run();
    expect(result).toMatchObject({ opened: 1, notified: 0, pending: 1, webhook: 'failed', webhookError: 'webhook answered HTTP 400 (after 1 attempts)' });
    expect(hook.requests).toHaveLength(1);
  });

  it('recomputes drifted status first, so a mislabelled item still gets its alert', async () => {
    const drifted = await insertItem(fleet.db, { title: 'Drifted', quantity: 0 });
    const wrongLow = await insertItem(fleet.db, { title: 'Wrongly low', quantity: 50 });
    await setStatusRaw(fleet.db, drifted, 'in_stock');
    await setStatusRaw(fleet.db, wrongLow, 'low_stock');
    const result = await run();
    expect(result).toMatchObject({ statusFixed: 2, opened: 1, open: 1, outOfStock: 1, lowStock: 0 });
    expect(await alerts()).toEqual([expect.objectContaining({ item: drifted, level: 'out' })]);
    const { rows } = await fleet.db.query('SELECT id::int, status FROM inventory ORDER BY id');
    expect(rows).toEqual([{ id: drifted, status: 'out_of_stock' }, { id: wrongLow, status: 'in_stock' }]);
  });

  it('dry run reports what would happen and changes nothing', async () => {
    const a = await insertItem(fleet.db, { title: 'Dry', quantity: 1 });
    await setStatusRaw(fleet.db, a, 'in_stock');
    const before = await fingerprint(fleet.db);
    const result = await run({ dryRun: true });
    expect(result).toMatchObject({ dryRun: true, statusFixed: 1, opened: 1, notified: 0, pending: 1, webhook: 'dry-run' });
    expect(await fingerprint(fleet.db)).toBe(before);
    expect(hook.requests).toHaveLength(0);
  });

  it('runs one at a time across workers: two simultaneous runs send one digest', async () => {
    await insertItem(fleet.db, { title: 'Race', quantity: 1 });
    const hosts = [await fleet.startWorkers([stockAlerts]), await fleet.startWorkers([stockAlerts])];
    try {
      const results = await Promise.all([runJob(fleet, 'stock-alerts', {}), runJob(fleet, 'stock-alerts', {})]);
      const outcomes = results.map((r) => (r.result as StockAlertsResult).webhook).sort();
      expect(outcomes).toEqual(['nothing-to-send', 'sent']);
      expect(results.map((r) => (r.result as StockAlertsResult).opened).sort()).toEqual([0, 1]);
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
    expect(hook.requests).toHaveLength(1);
  });

  it('rejects a bad payload at the edge', async () => {
    await expect(fleet.services.producer.enqueue('stock-alerts', { dryRun: 'yes' })).rejects.toThrow(/Invalid payload for stock-alerts: dryRun/);
    await expect(fleet.services.producer.enqueue('stock-alerts', { force: true })).rejects.toThrow(/Unrecognized key.*force/i);
  });
});
