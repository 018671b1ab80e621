import { describe, it, expect, beforeEach } from 'vitest';
import { useTestFleet, waitFor, runJob } from '../helpers.ts';
import integrityRepair from '../../jobs/integrity-repair/index.ts';
import type { IntegrityRepairResult } from '../../jobs/integrity-repair/handler.ts';
import { checkNames } from '../../jobs/integrity-repair/checks/index.ts';
import stockAlerts from '../../jobs/stock-alerts/index.ts';
import { schedulesOf } from '../../workers/scheduler.ts';
import { insertItem, insertOrder, reserve, item, setStatusRaw, fingerprint } from './fixtures/seed.ts';

const fleet = useTestFleet();

beforeEach(async () => {
  await fleet.db.query(`TRUNCATE inventory, stock_reservations, stock_alerts, stock_movements, orders, order_items,
                        products, product_variants, admin_users, admin_tokens, integrity_audit RESTART IDENTITY CASCADE`);
});

async function repair(payload: object = {}): Promise<IntegrityRepairResult> {
  const host = await fleet.startWorkers([integrityRepair]);
  try {
    const job = await runJob(fleet, 'integrity-repair', payload);
    expect(job.state, job.failedReason).toBe('completed');
    return job.result as IntegrityRepairResult;
  } finally {
    await host.close();
  }
}

/** One of every fault SPEC §8 lists, plus healthy rows each check must leave alone. */
async function seedFaults() {
  const db = fleet.db;
  // Negative available: 3 units really reserved, reserved_quantity says 9.
  const negative = await insertItem(db, { title: 'negative', quantity: 5 });
  await reserve(db, negative, 2);
  await reserve(db, negative, 1);
  await reserve(db, negative, 4, { status: 'released' });
  await db.query('UPDATE inventory SET reserved_quantity = 9 WHERE id = $1', [negative]);
  // Oversold: reservations really exceed stock; recomputing cannot help.
  const oversold = await insertItem(db, { title: 'oversold', quantity: 2, reserved: 4 });
  await reserve(db, oversold, 4);

  const expiredItem = await insertItem(db, { title: 'expired reservations', quantity: 10, reserved: 3 });
  const expired = await reserve(db, expiredItem, 2, { expiresInMinutes: -10 });
  const stillValid = await reserve(db, expiredItem, 1, { expiresInMinutes: 30 });

  const cancelledOrder = await insertOrder(db, 'cancelled');
  const liveOrder = await insertOrder(db, 'paid');
  const cancelledItem = await insertItem(db, { title: 'cancelled order', quantity: 10, reserved: 5 });
  const ofCancelled = await reserve(db, cancelledItem, 4, { orderId: cancelledOrder });
  await reserve(db, cancelledItem, 1, { orderId: liveOrder });

  const driftOut = await insertItem(db, { title: 'drift out', quantity: 0 });
  const driftIn = await insertItem(db, { title: 'drift in', quantity: 100 });
  await setStatusRaw(db, driftOut, 'in_stock');
  await setStatusRaw(db, driftIn, 'out_of_stock');

  // Duplicates: one external id, variant keys equal but for case and whitespace.
  const survivor = await insertItem(db, { externalId: 'dup-1', variantKey: 'color:gold', title: 'dup survivor', quantity: 3 });
  const dupA = await insertItem(db, { externalId: 'dup-1', variantKey: 'Color: Gold', title: 'dup a', quantity: 4, imageUrl: 'https://img/a.jpg' });
  const dupB = await insertItem(db, { externalId: 'dup-1', variantKey: ' COLOR:GOLD', title: 'dup b', quantity: 1, reserved: 1 });
  const sibling = await insertItem(db, { externalId: 'dup-1', variantKey: 'color:silver', title: 'not a dup', quantity: 7 });
  await db.query(`INSERT INTO stock_movements (inventory_id, delta, quantity_after, reason) VALUES ($1, 4, 4, 'import'), ($1, 1, 5, 'import'), ($2, 3, 3, 'import')`, [dupA, survivor]);
  const dupReservation = await reserve(db, dupB, 1);
  await db.query(`INSERT INTO stock_alerts (inventory_id, level) VALUES ($1, 'low'), ($2, 'low')`, [survivor, dupA]);
  await db.query(`INSERT INTO order_items (order_id, inventory_id, quantity, unit_price) VALUES ($1, $2, 1, 2.50)`, [liveOrder, dupB]);

  // Orphans: items of a deleted order, variants of a deleted product.
  await db.query(`INSERT INTO order_items (order_id, inventory_id, quantity) VALUES (gen_random_uuid(), $1, 2), (gen_random_uuid(), NULL, 1)`, [sibling]);
  const { rows: [product] } = await db.query(`INSERT INTO products (source, source_product_id, title) VALUES ('stockx', 'p-1', 'Shoe') RETURNING id`);
  await db.query(`INSERT INTO product_variants (product_id, size) VALUES ($1, '9'), (987654, '10'), (987654, '11')`, [product.id]);

  // Admin sessions: two expired, one live; an expired API token is not a session.
  const { rows: [admin] } = await db.query(`INSERT INTO admin_users (name) VALUES ('root') RETURNING id`);
  await db.query(`INSERT INTO admin_tokens (admin_user_id, name, token_hash, kind, expires_at) VALUES
    ($1, 's1', 'h1', 'session', now() - interval '1 hour'), ($1, 's2', 'h2', 'session', now() - interval '1 day'),
    ($1, 's3', 'h3', 'session', now() + interval '1 hour'), ($1, 'api', 'h4', 'api', now() - interval '1 day')`, [admin.id]);

  return { negative, oversold, expiredItem, expired, stillValid, cancelledItem, ofCancelled, driftOut, driftIn, survivor, dupA, dupB, sibling, dupReservation, liveOrder };
}

describe('integrity-repair', () => {
  it('dry run finds every seeded fault and changes nothing', async () => {
    await seedFaults();
    const before = await fingerprint(fleet.db);
    const result = await repair({ dryRun: true });
    expect(await fingerprint(fleet.db)).toBe(before);
    expect(result.dryRun).toBe(true);
    expect(result.stockAlertsJob).toBeUndefined();
    const found = Object.fromEntries(Object.entries(result.checks).map(([k, v]) => [k, [v.found, v.repaired, v.action]]));
    expect(found).toEqual({
      'expired-reservations': [1, 0, 'dry-run'],
      'cancelled-order-reservations': [1, 0, 'dry-run'],
      'duplicate-inventory': [1, 0, 'dry-run'],
      'negative-available': [1, 0, 'dry-run'],
      'status-drift': [2, 0, 'dry-run'],
      'orphaned-order-items': [2, 0, 'dry-run'],
      'orphaned-variants': [2, 0, 'dry-run'],
      'expired-admin-sessions': [2, 0, 'dry-run'],
    });
    expect(result.checks['duplicate-inventory']!.duplicateRows).toBe(2);
    expect(result.checks['negative-available']!.oversold).toBe(1);
    expect(result.checks['orphaned-variants']!.sample).toHaveLength(2);
  });

  it('repairs every fault with an audit row per entity; a second run finds nothing', async () => {
    const s = await seedFaults();
    const result = await repair();
    const summary = Object.fromEntries(Object.entries(result.checks).map(([k, v]) => [k, [v.found, v.repaired, v.action]]));
    expect(summary).toEqual({
      'expired-reservations': [1, 1, 'repaired'],
      'cancelled-order-reservations': [1, 1, 'repaired'],
      'duplicate-inventory': [1, 1, 'repaired'],
      'negative-available': [1, 1, 'repaired'],
      'status-drift': [2, 2, 'repaired'],
      'orphaned-order-items': [2, 0, 'reported'],
      'orphaned-variants': [2, 0, 'reported'],
      'expired-admin-sessions': [2, 2, 'repaired'],
    });

    // Negative available: recomputed from the 3 units of active reservations, not zeroed.
    expect(await item(fleet.db, s.negative)).toMatchObject({ quantity: 5, reserved_quantity: 3, available_quantity: 2, status: 'low_stock' });
    expect(await item(fleet.db, s.oversold)).toMatchObject({ reserved_quantity: 4, available_quantity: -2 });
    expect(result.checks['negative-available']!.oversold).toBe(1);

    // Stale reservations released, reserved_quantity recomputed from what stays active.
    const res = await fleet.db.query('SELECT id::int, status FROM stock_reservations WHERE id = ANY($1) ORDER BY id', [[s.expired, s.stillValid, s.ofCancelled]]);
    expect(res.rows).toEqual([{ id: s.expired, status: 'released' }, { id: s.stillValid, status: 'active' }, { id: s.ofCancelled, status: 'released' }]);
    expect(await item(fleet.db, s.expiredItem)).toMatchObject({ reserved_quantity: 1 });
    expect(await item(fleet.db, s.cancelledItem)).toMatchObject({ reserved_quantity: 1 });

    expect(await item(fleet.db, s.driftOut)).toMatchObject({ status: 'out_of_stock' });
    expect(await item(fleet.db, s.driftIn)).toMatchObject({ status: 'in_stock' });

    // Duplicates merged into the oldest row: quantities summed, references moved.
    expect(await item(fleet.db, s.dupA)).toBeUndefined();
    expect(await item(fleet.db, s.dupB)).toBeUndefined();
    expect(await item(fleet.db, s.sibling)).toMatchObject({ quantity: 7 });
    const merged = await fleet.db.query('SELECT quantity, reserved_quantity, image_url FROM inventory WHERE id = $1', [s.survivor]);
    expect(merged.rows[0]).toEqual({ quantity: 8, reserved_quantity: 1, image_url: 'https://img/a.jpg' });
    const refs = await fleet.db.query(`SELECT
        (SELECT count(*) FROM stock_movements WHERE inventory_id = $1)::int AS movements,
        (SELECT inventory_id::int FROM stock_reservations WHERE id = $2) AS reservation_item,
        (SELECT array_agg(status::text ORDER BY id) FROM stock_alerts WHERE inventory_id = $1) AS alerts,
        (SELECT inventory_id::int FROM order_items WHERE order_id = $3) AS order_item`, [s.survivor, s.dupReservation, s.liveOrder]);
    expect(refs.rows[0]).toEqual({ movements: 3, reservation_item: s.survivor, alerts: ['open', 'resolved'], order_item: s.survivor });

    const sessions = await fleet.db.query(`SELECT name FROM admin_tokens ORDER BY name`);
    expect(sessions.rows.map((r) => r.name)).toEqual(['api', 's3']);

    // Audit: one row per repaired entity, with before and after.
    const audit = await fleet.db.query(`SELECT check_name, entity, count(*)::int AS n FROM integrity_audit GROUP BY 1, 2 ORDER BY 1, 2`);
    expect(audit.rows).toEqual([
      { check_name: 'cancelled-order-reservations', entity: 'inventory', n: 1 },
      { check_name: 'cancelled-order-reservations', entity: 'stock_reservation', n: 1 },
      { check_name: 'duplicate-inventory', entity: 'inventory', n: 1 },
      { check_name: 'expired-admin-sessions', entity: 'admin_session', n: 2 },
      { check_name: 'expired-reservations', entity: 'inventory', n: 1 },
      { check_name: 'expired-reservations', entity: 'stock_reservation', n: 1 },
      { check_name: 'negative-available', entity: 'inventory', n: 1 },
      { check_name: 'status-drift', entity: 'inventory', n: 2 },
    ]);
    const { rows: [neg] } = await fleet.db.query(`SELECT entity_id, before, after, job_id FROM integrity_audit WHERE check_name = 'negative-available'`);
    expect(neg).toMatchObject({
      entity_id: String(s.negative),
      before: { quantity: 5, reserved_quantity: 9, available_quantity: -4, status: 'out_of_stock' },
      after: { quantity: 5, reserved_quantity: 3, available_quantity: 2, status: 'low_stock' },
      job_id: expect.any(String),
    });
    const { rows: [dup] } = await fleet.db.query(`SELECT entity_id, before, after FROM integrity_audit WHERE check_name = 'duplicate-inventory'`);
    expect(dup.entity_id).toBe(String(s.survivor));
    expect(dup.before.duplicates.map((d: { id: number }) => d.id)).toEqual([s.dupA, s.dupB]);
    expect(dup.after).toMatchObject({ merged_ids: [s.dupA, s.dupB], survivor: { quantity: 8 },
      moved_references: { stock_movements: 2, stock_reservations: 1, stock_alerts: 1, order_items: 1 } });
    const { rows: sessionAudit } = await fleet.db.query(`SELECT before FROM integrity_audit WHERE entity = 'admin_session'`);
    expect(sessionAudit.every((r) => r.before.kind === 'session' && !('token_hash' in r.before))).toBe(true);

    // Inventory changed, so stock-alerts was queued as a follow-up.
    expect(result.stockAlertsJob).toBeDefined();
    const follow = await fleet.services.producer.queue('stock-alerts').getJob(result.stockAlertsJob!);
    expect(follow?.data).toMatchObject({ payload: { dryRun: false }, enqueuedBy: expect.stringMatching(/^job:integrity-repair:/) });

    // Orphans are removed only on request, each audited with the whole row.
    const orphans = await repair({ checks: ['orphaned-order-items', 'orphaned-variants'], removeOrphans: true });
    expect(orphans.checks).toEqual({
      'orphaned-order-items': expect.objectContaining({ found: 2, repaired: 2, action: 'repaired' }),
      'orphaned-variants': expect.objectContaining({ found: 2, repaired: 2, action: 'repaired' }),
    });
    expect(orphans.stockAlertsJob).toBeUndefined();
    const { rows: [counts] } = await fleet.db.query(`SELECT (SELECT count(*) FROM order_items)::int AS items, (SELECT count(*) FROM product_variants)::int AS variants,
      (SELECT count(*) FROM integrity_audit WHERE check_name LIKE 'orphaned-%' AND before ? 'id')::int AS audited`);
    expect(counts).toEqual({ items: 1, variants: 1, audited: 4 });

    const again = await repair({ removeOrphans: true });
    expect(Object.values(again.checks).map((c) => c.found)).toEqual(checkNames.map(() => 0));
    expect(Object.values(again.checks).every((c) => c.repaired === 0)).toBe(true);
    expect(again.stockAlertsJob).toBeUndefined();
  });

  it('repairs in batches, and skips rows an ordinary update holds instead of waiting', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 9; i++) ids.push(await insertItem(fleet.db, { quantity: 0 }));
    for (const id of ids) await setStatusRaw(fleet.db, id, 'in_stock');

    const blocker = await fleet.db.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM inventory WHERE id = $1 FOR UPDATE', [ids[4]]);
      const partial = await repair({ checks: ['status-drift'], batchSize: 2 });
      expect(partial.checks['status-drift']).toMatchObject({ found: 9, repaired: 8 });
      await blocker.query('COMMIT');
    } finally {
      blocker.release();
    }
    const rest = await repair({ checks: ['status-drift'], batchSize: 2 });
    expect(rest.checks['status-drift']).toMatchObject({ found: 1, repaired: 1 });
    const { rows } = await fleet.db.query(`SELECT count(*)::int AS n FROM integrity_audit WHERE check_name = 'status-drift'`);
    expect(rows[0].n).toBe(9);
  });

  it('fails unknown check names at once, listing the valid ones', async () => {
    const valid = `Valid checks: ${checkNames.join(', ')}`;
    await expect(fleet.services.producer.enqueue('integrity-repair', { checks: ['status-drift', 'nope'] }))
      .rejects.toThrow(`checks: unknown check "nope". ${valid}`);
    // Added behind the producer's back: the worker rejects it without retrying.
    const host = await fleet.startWorkers([integrityRepair]);
    try {
      const queue = fleet.services.producer.queue('integrity-repair');
      const job = await queue.add('integrity-repair', { payload: { checks: ['nope', 'nah'] }, enqueuedBy: 'test' });
      await waitFor(async () => (await queue.getJobState(job.id!)) === 'failed');
      // Read once final: a copy read before it failed has no failedReason.
      const failed = (await queue.getJob(job.id!))!;
      expect(failed.failedReason).toContain(`unknown checks "nope", "nah". ${valid}`);
      expect(failed.attemptsMade).toBe(1);
    } finally {
      await host.close();
    }
  });

  it('is scheduled to repair daily at 02:30, and stock-alerts every 15 minutes (SPEC §10)', () => {
    const entries = schedulesOf([integrityRepair, stockAlerts]);
    expect(entries).toHaveLength(2);
    expect(entries).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'integrity-repair', job: 'integrity-repair', cron: '30 2 * * *', payload: { dryRun: false, removeOrphans: false, batchSize: 250 } }),
      expect.objectContaining({ name: 'stock-alerts', job: 'stock-alerts', cron: '*/15 * * * *', payload: { dryRun: false } }),
    ]));
    expect([integrityRepair.concurrency, stockAlerts.concurrency]).toEqual([1, 1]);
  });
});
