import { describe, it, expect } from 'vitest';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { useTestFleet, runJob } from '../helpers.ts';
import backupPrune from '../../jobs/backup/backup-prune.ts';
import { planRetention, isoWeekOf, type Candidate } from '../../jobs/backup/retention.ts';
import { newBackupId, dumpKey, manifestKey } from '../../jobs/backup/keys.ts';
import { putObject } from './fixtures/support.ts';

const fleet = useTestFleet();
const day = (iso: string, hour = 3) => new Date(`${iso}T${String(hour).padStart(2, '0')}:00:00Z`);

describe('retention policy (pure)', () => {
  it('numbers ISO weeks across year ends', () => {
    expect(isoWeekOf(day('2025-12-29'))).toBe('2026-W01');
    expect(isoWeekOf(day('2021-01-03'))).toBe('2020-W53');
    expect(isoWeekOf(day('2025-06-15'))).toBe('2025-W24');
    expect(isoWeekOf(day('2025-06-16'))).toBe('2025-W25');
  });

  it('keeps the newest backup of each day, week and month, and the newest verified one when no kept one is', () => {
    const b = (id: string, iso: string, hour = 3, verified = false): Candidate => ({ id, startedAt: day(iso, hour), verified });
    const all = [b('a', '2025-03-01'), b('b', '2025-03-02', 1), b('c', '2025-03-02', 9), b('d', '2025-03-09'), b('e', '2025-02-10', 3, true)];
    expect([...planRetention(all, { daily: 1, weekly: 0, monthly: 0 }).keep.keys()].sort()).toEqual(['d', 'e']);
    expect([...planRetention([...all.slice(0, 4), { ...all[4]!, verified: false }], { daily: 0, weekly: 0, monthly: 0 }).keep.keys()]).toEqual([]);
    const plan = planRetention(all, { daily: 2, weekly: 2, monthly: 2 });
    expect(Object.fromEntries(plan.keep)).toEqual({
      d: ['daily 2025-03-09', 'weekly 2025-W10', 'monthly 2025-03'], c: ['daily 2025-03-02', 'weekly 2025-W09'], e: ['monthly 2025-02'],
    });
    expect(plan.remove.sort()).toEqual(['a', 'b']);
    expect(planRetention([], { daily: 7, weekly: 4, monthly: 12 })).toEqual({ keep: new Map(), remove: [] });
  });
});

describe('backup-prune', () => {
  it('deletes objects and rows outside 7 daily / 4 weekly / 12 monthly, keeps the only verified one, dry-runs first', async () => {
    const ids = new Map<string, string>();
    const rows: [string, string, Date, boolean][] = [];
    for (let t = day('2025-01-01').getTime(); t <= day('2025-12-31').getTime(); t += 86_400_000) {
      const at = new Date(t);
      const id = newBackupId(t);
      ids.set(at.toISOString().slice(0, 10), id);
      rows.push([id, 'completed', at, at.toISOString().startsWith('2025-06-15')]);
    }
    const early = newBackupId(day('2025-12-31', 1).getTime());
    rows.push([early, 'completed', day('2025-12-31', 1), false]);
    const oldFailed = newBackupId(day('2025-12-01').getTime());
    const newFailed = newBackupId();
    const running = newBackupId();
    rows.push([oldFailed, 'failed', day('2025-12-01'), false], [newFailed, 'failed', new Date(), false], [running, 'running', new Date(), false]);
    await fleet.db.query(
      `INSERT INTO backups (id, kind, object_key, status, started_at, verified_at, verify_result)
       SELECT id, 'full', 'pg/' || id || '.dump', status, started, CASE WHEN v THEN started END, CASE WHEN v THEN '{"ok":true}'::jsonb END
       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::boolean[]) AS r(id, status, started, v)`,
      [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])]);
    const doomed = ids.get('2025-01-15')!;
    const kept = ids.get('2025-01-31')!;
    for (const id of [doomed, kept]) {
      await putObject(fleet.services.s3, fleet.config.backupBucket, dumpKey(id), 'dump');
      await putObject(fleet.services.s3, fleet.config.backupBucket, manifestKey(id), '{}');
    }

    const expected = [
      ...['25', '26', '27', '28', '29', '30', '31'].map((d) => `2025-12-${d}`), // daily
      '2025-12-21', '2025-12-14', // weekly: 2026-W01 and 2025-W52 are already kept by the daily rule
      '2025-11-30', '2025-10-31', '2025-09-30', '2025-08-31', '2025-07-31', '2025-06-30', '2025-05-31', '2025-04-30', '2025-03-31', '2025-02-28', '2025-01-31', // monthly
      '2025-06-15', // the only verified backup
    ].map((d) => ids.get(d)!).sort();

    const host = await fleet.startWorkers([backupPrune]);
    try {
      const dry = await runJob(fleet, 'backup-prune', { dryRun: true });
      expect(dry.state, dry.failedReason).toBe('completed');
      const plan = dry.result as { kept: { id: string; reasons: string[] }[]; deleted: string[]; deletedFailed: number };
      expect(plan.kept.map((k) => k.id).sort()).toEqual(expected);
      expect(plan.kept.find((k) => k.id === ids.get('2025-06-15'))!.reasons).toEqual(['newest verified backup']);
      expect(plan.deleted).toHaveLength(366 - expected.length);
      expect(plan.deleted).toContain(early);
      expect(plan.deletedFailed).toBe(1);
      expect((await fleet.db.query('SELECT count(*)::int AS n FROM backups')).rows[0].n).toBe(369);

      const real = await runJob(fleet, 'backup-prune', {});
      expect(real.state, real.failedReason).toBe('completed');
    } finally {
      await host.close();
    }
    const left = await fleet.db.query<{ id: string; status: string }>('SELECT id, status FROM backups ORDER BY id');
    expect(left.rows.filter((r) => r.status === 'completed').map((r) => r.id)).toEqual(expected);
    expect(left.rows.filter((r) => r.status !== 'completed').map((r) => r.id).sort()).toEqual([newFailed, running].sort());
    const exists = async (key: string) => fleet.services.s3.send(new HeadObjectCommand({ Bucket: fleet.config.backupBucket, Key: key })).then(() => true, () => false);
    expect(await exists(dumpKey(doomed))).toBe(false);
    expect(await exists(manifestKey(doomed))).toBe(false);
    expect(await exists(dumpKey(kept))).toBe(true);
    expect(await exists(manifestKey(kept))).toBe(true);
  });
});
