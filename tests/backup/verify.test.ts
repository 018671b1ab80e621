import { describe, it, expect } from 'vitest';
import { useTestFleet, runJob } from '../helpers.ts';
import backupExport from '../../jobs/backup/backup-export.ts';
import backupVerify from '../../jobs/backup/backup-verify.ts';
import { scratchPrefix } from '../../jobs/backup/verify.ts';
import { readManifest } from '../../jobs/backup/manifest.ts';
import { manifestKey } from '../../jobs/backup/keys.ts';
import { registry } from '../../shared/metrics.ts';
import { databaseName } from '../../shared/db.ts';
import { seedShop, getObject, putObject, databasesWithPrefix, restoreTarget } from './fixtures/support.ts';

const fleet = useTestFleet();

async function gauge(name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values[0]!.value;
}

async function exportOnce(): Promise<{ backupId: string; key: string; bytes: number }> {
  const host = await fleet.startWorkers([backupExport]);
  try {
    const run = await runJob(fleet, 'backup-export', {});
    expect(run.state, run.failedReason).toBe('completed');
    return run.result as { backupId: string; key: string; bytes: number };
  } finally {
    await host.close();
  }
}

describe('backup-verify', () => {
  const prefix = () => scratchPrefix(databaseName(fleet.config.databaseUrl));

  it('fails clearly when there is nothing to verify', async () => {
    const host = await fleet.startWorkers([backupVerify]);
    try {
      const run = await runJob(fleet, 'backup-verify', {});
      expect(run.state).toBe('failed');
      expect(run.attemptsMade).toBe(1);
      expect(run.failedReason).toMatch(/No completed full backup to verify yet; run backup-export first/);
    } finally {
      await host.close();
    }
  });

  it('restores the latest backup into a scratch database, matches every count, records duration and metrics', async () => {
    await seedShop(fleet.db, 2_000);
    // Writers keep going during the dump: counts taken in the dump's snapshot must still match the restore.
    let stop = false;
    const writer = (async () => {
      while (!stop) await fleet.db.query(`INSERT INTO stock_movements (inventory_id, delta, reason) SELECT id, 1, 'concurrent' FROM inventory WHERE id <= 50`);
    })();
    let backup;
    try {
      backup = await exportOnce();
    } finally {
      stop = true;
      await writer;
    }
    const host = await fleet.startWorkers([backupVerify]);
    try {
      const run = await runJob(fleet, 'backup-verify', {});
      expect(run.state, run.failedReason).toBe('completed');
      const { rows: [{ n: tables }] } = await fleet.db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
      expect(run.result).toMatchObject({ ok: true, backupId: backup.backupId, mode: 'stream', mismatches: [], tables });
      const { rows } = await fleet.db.query('SELECT verified_at, verify_result, restore_duration_ms FROM backups WHERE id = $1', [backup.backupId]);
      expect(rows[0].verified_at).toBeInstanceOf(Date);
      expect(rows[0].restore_duration_ms).toBeGreaterThan(0);
      expect(rows[0].restore_duration_ms).toBe((run.result as { restoreMs: number }).restoreMs);
      expect(rows[0].verify_result).toMatchObject({ ok: true, rows: expect.any(Number) });
      expect(await gauge('fleet_backup_last_verified_timestamp_seconds')).toBeCloseTo(rows[0].verified_at.getTime() / 1000, 3);
      expect(await gauge('fleet_backup_restore_duration_seconds')).toBe(rows[0].restore_duration_ms / 1000);
      expect(await gauge('fleet_backup_size_bytes')).toBe(backup.bytes);
      expect(await gauge('fleet_backup_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 120);
      const spooled = await runJob(fleet, 'backup-verify', { backupId: backup.backupId, jobs: 2 });
      expect(spooled.result).toMatchObject({ ok: true, mode: 'file' });
    } finally {
      await host.close();
    }
    expect(await databasesWithPrefix(prefix())).toEqual([]);
  });

  it('drops the scratch database when the restore fails, and records the failure without moving verified_at', async () => {
    const backup = await exportOnce();
    const original = await getObject(fleet.services.s3, fleet.config.backupBucket, backup.key);
    const bad = Buffer.from(original);
    bad[bad.length >> 1]! ^= 1;
    await putObject(fleet.services.s3, fleet.config.backupBucket, backup.key, bad);
    const host = await fleet.startWorkers([backupVerify]);
    try {
      const run = await runJob(fleet, 'backup-verify', { backupId: backup.backupId });
      expect(run.state).toBe('failed');
      expect(run.attemptsMade).toBe(1);
      expect(run.failedReason).toMatch(/does not match its manifest .* refusing to restore it/);
    } finally {
      await host.close();
    }
    const { rows } = await fleet.db.query('SELECT verified_at, verify_result FROM backups WHERE id = $1', [backup.backupId]);
    expect(rows[0].verified_at).toBeNull();
    expect(rows[0].verify_result).toMatchObject({ ok: false, error: expect.stringMatching(/does not match its manifest/) });
    expect(await databasesWithPrefix(prefix())).toEqual([]);
    await putObject(fleet.services.s3, fleet.config.backupBucket, backup.key, original);
  });

  it('fails a restore whose counts differ from the manifest, naming the table, and drops the scratch database', async () => {
    const backup = await exportOnce();
    const manifest = await readManifest(fleet.services.s3, fleet.config.backupBucket, backup.backupId);
    const good = JSON.stringify(manifest);
    manifest.tables['public.inventory']! += 1;
    await putObject(fleet.services.s3, fleet.config.backupBucket, manifestKey(backup.backupId), JSON.stringify(manifest));
    const host = await fleet.startWorkers([backupVerify]);
    try {
      const run = await runJob(fleet, 'backup-verify', { backupId: backup.backupId });
      expect(run.state).toBe('failed');
      expect(run.failedReason).toMatch(/restored, but 1 table\(s\) differ from its manifest: public\.inventory: expected 2001, restored 2000/);
    } finally {
      await host.close();
    }
    const { rows } = await fleet.db.query('SELECT verified_at, verify_result, restore_duration_ms FROM backups WHERE id = $1', [backup.backupId]);
    expect(rows[0].verified_at).toBeNull();
    expect(rows[0].verify_result).toMatchObject({ ok: false, mismatches: [{ table: 'public.inventory', expected: 2001, actual: 2000 }] });
    expect(rows[0].restore_duration_ms).toBeGreaterThan(0);
    expect(await databasesWithPrefix(prefix())).toEqual([]);
    await putObject(fleet.services.s3, fleet.config.backupBucket, manifestKey(backup.backupId), good);
  });

  it('drops scratch databases a killed verify left behind', async () => {
    const leftover = restoreTarget(`${prefix()}dead`);
    await leftover.create();
    try {
      expect(await databasesWithPrefix(prefix())).toEqual([leftover.name]);
      const host = await fleet.startWorkers([backupVerify]);
      try {
        const run = await runJob(fleet, 'backup-verify', {});
        expect(run.state, run.failedReason).toBe('completed');
      } finally {
        await host.close();
      }
      expect(await databasesWithPrefix(prefix())).toEqual([]);
    } finally {
      await leftover.drop();
    }
  });
});
