import crypto from 'node:crypto';
import { describe, it, expect, afterAll } from 'vitest';
import { useTestFleet, runJob } from '../helpers.ts';
import backupExport from '../../jobs/backup/backup-export.ts';
import { readManifest } from '../../jobs/backup/manifest.ts';
import { keyId } from '../../jobs/backup/crypto.ts';
import { contentChecksums, seedShop, cli, restoreTarget, getObject, databaseExists } from './fixtures/support.ts';

const key = crypto.randomBytes(32);
const fleet = useTestFleet({ BACKUP_ENCRYPTION_KEY: key.toString('hex') });
const targets: { drop(): Promise<void> }[] = [];
afterAll(async () => { await Promise.all(targets.map((t) => t.drop())); });

describe('encrypted backups', () => {
  let backupId: string;

  it('stores only ciphertext, and records the scheme and key id in the manifest', async () => {
    await seedShop(fleet.db, 1_000);
    const host = await fleet.startWorkers([backupExport]);
    try {
      const run = await runJob(fleet, 'backup-export', {});
      expect(run.state, run.failedReason).toBe('completed');
      backupId = (run.result as { backupId: string }).backupId;
      expect(run.result).toMatchObject({ encrypted: true });
    } finally {
      await host.close();
    }
    const manifest = await readManifest(fleet.services.s3, fleet.config.backupBucket, backupId);
    expect(manifest.encryption).toEqual({ algorithm: 'AES-256-GCM', scheme: 'fleet-stream-v1', chunkSize: 1024 * 1024, keyId: keyId(key) });
    const stored = await getObject(fleet.services.s3, fleet.config.backupBucket, manifest.object.key);
    expect(stored.subarray(0, 8).toString('latin1')).toBe('FLEETBK\x01');
    expect(stored.includes(Buffer.from('PGDMP'))).toBe(false);
    expect(stored.includes(Buffer.from('Édition spéciale'))).toBe(false);
    // The checksum is of the stored bytes, so anyone can check the object without the key.
    expect(crypto.createHash('sha256').update(stored).digest('hex')).toBe(manifest.object.sha256);
    const row = await fleet.db.query('SELECT encrypted, encryption_key_id FROM backups WHERE id = $1', [backupId]);
    expect(row.rows[0]).toEqual({ encrypted: true, encryption_key_id: keyId(key) });
  });

  it('decrypts on restore, streamed and spooled, to identical contents', async () => {
    const source = await contentChecksums(fleet.config.databaseUrl);
    for (const k of ['public.backups', 'public.job_runs', 'sequence public.job_runs_id_seq', 'public.job_queue_last_success']) delete source[k];
    for (const jobs of ['1', '2']) {
      const target = restoreTarget();
      targets.push(target);
      const run = await cli(['backup', 'restore', backupId, '--target', target.url, '--jobs', jobs], fleet.env);
      expect(run.code, run.err.join('\n')).toBe(0);
      const restored = await contentChecksums(target.url);
      for (const k of ['public.backups', 'public.job_runs', 'sequence public.job_runs_id_seq', 'public.job_queue_last_success']) delete restored[k];
      expect(restored).toEqual(source);
    }
  });

  it('refuses a wrong key or no key, naming the key ids, without creating the target', async () => {
    const target = restoreTarget();
    targets.push(target);
    const wrong = crypto.randomBytes(32);
    const run = await cli(['backup', 'restore', backupId, '--target', target.url], { ...fleet.env, BACKUP_ENCRYPTION_KEY: wrong.toString('base64') });
    expect(run.code).toBe(1);
    expect(run.err.join('\n')).toContain(`was encrypted with key id ${keyId(key)}, but BACKUP_ENCRYPTION_KEY has key id ${keyId(wrong)}: wrong key`);
    const none = await cli(['backup', 'restore', backupId, '--target', target.url], { ...fleet.env, BACKUP_ENCRYPTION_KEY: undefined });
    expect(none.code).toBe(1);
    expect(none.err.join('\n')).toMatch(/is encrypted \(key id [0-9a-f]{16}\); set BACKUP_ENCRYPTION_KEY/);
    expect(await databaseExists(target.name)).toBe(false);
  });
});
