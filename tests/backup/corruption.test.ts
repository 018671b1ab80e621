import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { useTestFleet, runJob } from '../helpers.ts';
import backupExport from '../../jobs/backup/backup-export.ts';
import { seedShop, cli, restoreTarget, getObject, putObject, databaseExists, withPg } from './fixtures/support.ts';

const fleet = useTestFleet();
const targets: { drop(): Promise<void> }[] = [];
afterAll(async () => { await Promise.all(targets.map((t) => t.drop())); });

describe('a corrupted backup object', () => {
  let backup: { backupId: string; key: string };
  let original: Buffer;

  beforeAll(async () => {
    await seedShop(fleet.db, 1_000);
    const host = await fleet.startWorkers([backupExport]);
    try {
      const run = await runJob(fleet, 'backup-export', {});
      expect(run.state, run.failedReason).toBe('completed');
      backup = run.result as typeof backup;
    } finally {
      await host.close();
    }
    original = await getObject(fleet.services.s3, fleet.config.backupBucket, backup.key);
  });

  it('is refused before anything is written, streamed or spooled: the target is not even created', async () => {
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length * 0.9)]! ^= 0x40; // late in the object, past everything pg_restore would read first
    await putObject(fleet.services.s3, fleet.config.backupBucket, backup.key, flipped);
    for (const jobs of ['1', '3']) {
      const target = restoreTarget();
      targets.push(target);
      const run = await cli(['backup', 'restore', backup.backupId, '--target', target.url, '--jobs', jobs], fleet.env);
      expect(run.code).toBe(1);
      expect(run.err.join('\n')).toMatch(new RegExp(`backup object ${backup.key} does not match its manifest \\(sha256 [0-9a-f]{64}, ${original.length} bytes; expected [0-9a-f]{64}, ${original.length} bytes\\): it was corrupted or replaced; refusing to restore it`));
      expect(await databaseExists(target.name)).toBe(false);
    }
  });

  it('is refused when truncated or missing, and an existing empty target stays empty', async () => {
    const target = restoreTarget();
    targets.push(target);
    await target.create();
    await putObject(fleet.services.s3, fleet.config.backupBucket, backup.key, original.subarray(0, original.length - 1000));
    const truncated = await cli(['backup', 'restore', backup.backupId, '--target', target.url], fleet.env);
    expect(truncated.code).toBe(1);
    expect(truncated.err.join('\n')).toMatch(/does not match its manifest/);
    const tables = await withPg(target.url, (c) => c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`));
    expect(tables.rows[0].n).toBe(0);

    await fleet.services.s3.send(new DeleteObjectCommand({ Bucket: fleet.config.backupBucket, Key: backup.key }));
    const missing = await cli(['backup', 'restore', backup.backupId, '--target', target.url], fleet.env);
    expect(missing.code).toBe(1);
    expect(missing.err.join('\n')).toMatch(/backup object .* is missing from bucket/);
  });

  it('restores again once the original bytes are back', async () => {
    await putObject(fleet.services.s3, fleet.config.backupBucket, backup.key, original);
    const target = restoreTarget();
    targets.push(target);
    const run = await cli(['backup', 'restore', backup.backupId, '--target', target.url], fleet.env);
    expect(run.code, run.err.join('\n')).toBe(0);
    expect(run.last).toMatchObject({ countsMatch: true });
  });
});
