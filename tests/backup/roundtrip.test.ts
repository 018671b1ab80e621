import { execFile } from 'node:child_process';
import { describe, it, expect, afterAll } from 'vitest';
import { useTestFleet, runJob } from '../helpers.ts';
import backupExport from '../../jobs/backup/backup-export.ts';
import { readManifest } from '../../jobs/backup/manifest.ts';
import { contentChecksums, seedShop, cli, restoreTarget, withPg, unfinishedUploads, getObject } from './fixtures/support.ts';

/** pg_restore --list of a dump held in memory. */
function pgRestoreList(dump: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('pg_restore', ['--list'], { maxBuffer: 1 << 24 }, (err, stdout) => (err ? reject(err) : resolve(stdout.split('\n'))));
    child.stdin!.end(dump);
  });
}

const fleet = useTestFleet();
const targets: { drop(): Promise<void> }[] = [];
afterAll(async () => { await Promise.all(targets.map((t) => t.drop())); });

interface ExportResult { backupId: string; key: string; manifestKey: string; bytes: number; sha256: string; tables: Record<string, number> }

describe('backup-export → fleet backup restore', () => {
  let backup: ExportResult;

  it('dumps the database with row counts from the dump\'s own snapshot, a manifest and a completed row', async () => {
    await seedShop(fleet.db, 3_000);
    const host = await fleet.startWorkers([backupExport]);
    try {
      const run = await runJob(fleet, 'backup-export', { label: 'round trip' });
      expect(run.state, run.failedReason).toBe('completed');
      backup = run.result as ExportResult;
    } finally {
      await host.close();
    }
    expect(backup).toMatchObject({ key: `pg/${backup.backupId}.dump`, bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(backup.tables).toMatchObject({ 'public.inventory': 3_000, 'public.stock_movements': 3_000, 'public.orders': 300, 'public.product_variants': 450 });
    const manifest = await readManifest(fleet.services.s3, fleet.config.backupBucket, backup.backupId);
    expect(manifest).toMatchObject({
      kind: 'full', label: 'round trip', tableFilter: null, dumpFormat: 'custom', encryption: null,
      object: { key: backup.key, bytes: backup.bytes, sha256: backup.sha256, sha256Of: 'stored-object' }, tables: backup.tables,
    });
    expect(manifest.pgDumpVersion).toMatch(/^15\./);
    expect(manifest.serverVersionNum).toBeGreaterThanOrEqual(150000);
    const { rows } = await fleet.db.query('SELECT status, bytes, sha256, manifest_key, tables, job_id FROM backups WHERE id = $1', [backup.backupId]);
    expect(rows[0]).toMatchObject({ status: 'completed', bytes: backup.bytes, sha256: backup.sha256, manifest_key: backup.manifestKey, tables: backup.tables });
    expect(await unfinishedUploads(fleet.services.s3, fleet.config.backupBucket)).toEqual([]);
  });

  it('restores into a new database with every table\'s ordered content identical', async () => {
    const target = restoreTarget();
    targets.push(target);
    const run = await cli(['backup', 'restore', 'latest', '--target', target.url], fleet.env);
    expect(run.code, run.err.join('\n')).toBe(0);
    expect(run.last).toMatchObject({ backupId: backup.backupId, mode: 'stream', countsMatch: true, mismatches: [] });
    const source = await contentChecksums(fleet.config.databaseUrl);
    const restored = await contentChecksums(target.url);
    // The source's backups row was inserted after the snapshot (and job_runs moves on, with its last success per queue); every other table must match exactly.
    delete source['public.backups']; delete restored['public.backups'];
    for (const k of ['public.job_runs', 'sequence public.job_runs_id_seq', 'public.job_queue_last_success']) { delete source[k]; delete restored[k]; }
    expect(Object.keys(restored).length).toBeGreaterThan(15);
    expect(restored).toEqual(source);
    // Constraints, triggers and indexes came back too.
    const indexes = (url: string) => withPg(url, (c) => c.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`));
    const [srcIdx, dstIdx] = [await indexes(fleet.config.databaseUrl), await indexes(target.url)];
    expect(dstIdx.rows.length).toBeGreaterThan(10);
    expect(dstIdx.rows).toEqual(srcIdx.rows);
  });

  it('refuses a non-empty target unless --clean, and restores in parallel from a spool file', async () => {
    const target = restoreTarget();
    targets.push(target);
    expect((await cli(['backup', 'restore', backup.backupId, '--target', target.url, '--jobs', '2'], fleet.env)).code).toBe(0);
    await withPg(target.url, (c) => c.query(`UPDATE inventory SET title = 'changed' WHERE id <= 10`));
    const refused = await cli(['backup', 'restore', backup.backupId, '--target', target.url], fleet.env);
    expect(refused.code).toBe(1);
    expect(refused.err.join('\n')).toMatch(/target database "fleet_t_rst_\w+" is not empty .* pass --clean/);
    const changed = await withPg(target.url, (c) => c.query(`SELECT count(*)::int AS n FROM inventory WHERE title = 'changed'`));
    expect(changed.rows[0].n).toBe(10);
    const clean = await cli(['backup', 'restore', backup.backupId, '--target', target.url, '--clean', '--jobs', '2'], fleet.env);
    expect(clean.code, clean.err.join('\n')).toBe(0);
    expect(clean.last).toMatchObject({ mode: 'file', countsMatch: true });
    const after = await withPg(target.url, (c) => c.query(`SELECT count(*)::int AS n FROM inventory WHERE title = 'changed'`));
    expect(after.rows[0].n).toBe(0);
  });

  it('lists backups from the table and from the bucket alone', async () => {
    const fromDb = await cli(['backup', 'list', '--json'], fleet.env);
    expect(fromDb.code).toBe(0);
    expect(JSON.parse(fromDb.out.join('\n'))[0]).toMatchObject({ id: backup.backupId, status: 'completed', label: 'round trip' });
    const table = await cli(['backup', 'list'], fleet.env);
    expect(table.out[0]).toMatch(/^id\s+status\s+kind\s+started/);
    expect(table.out[1]).toContain(backup.backupId);
    const fromBucket = await cli(['backup', 'list', '--bucket', '--json'], fleet.env);
    expect(JSON.parse(fromBucket.out.join('\n')).map((m: { backupId: string }) => m.backupId)).toEqual([backup.backupId]);
  });

  it('dumps only the named tables, and fails an unknown table at once without retrying', async () => {
    // A name full of pattern characters, and a decoy it would match if they were wildcards.
    await fleet.db.query(`CREATE TABLE "We""ird*.Name" (id int); INSERT INTO "We""ird*.Name" VALUES (1), (2), (3)`);
    await fleet.db.query(`CREATE TABLE "We""irdX.Name" (id int); INSERT INTO "We""irdX.Name" VALUES (1)`);
    const host = await fleet.startWorkers([backupExport]);
    try {
      const partial = await runJob(fleet, 'backup-export', { kind: 'data', tables: ['inventory', 'public.orders', 'public.We"ird*.Name'] });
      expect(partial.state, partial.failedReason).toBe('completed');
      const result = partial.result as ExportResult;
      expect(result.tables).toEqual({ 'public.inventory': 3_000, 'public.orders': 300, 'public.We"ird*.Name': 3 });
      const listing = await pgRestoreList(await getObject(fleet.services.s3, fleet.config.backupBucket, result.key));
      expect(listing.filter((l) => l.includes('TABLE DATA')).map((l) => l.replace(/^.*TABLE DATA public /, '').replace(/ \S+$/, '')).sort())
        .toEqual(['We"ird*.Name', 'inventory', 'orders']);
      const bad = await runJob(fleet, 'backup-export', { tables: ['inventory', 'nope'] });
      expect(bad.state).toBe('failed');
      expect(bad.attemptsMade).toBe(1);
      expect(bad.failedReason).toMatch(/Unknown table: nope\. Known tables: .*public\.inventory/);
    } finally {
      await host.close();
    }
    const failed = await fleet.db.query(`SELECT count(*)::int AS n FROM backups WHERE status <> 'completed'`);
    expect(failed.rows[0].n).toBe(0);
  });

  it('rejects bad payloads and bad CLI usage with messages naming the problem', async () => {
    await expect(fleet.services.producer.enqueue('backup-export', { kind: 'everything' })).rejects.toThrow(/kind/);
    await expect(fleet.services.producer.enqueue('backup-export', { tables: [] })).rejects.toThrow(/tables/);
    await expect(fleet.services.producer.enqueue('backup-verify', { backupId: 'nope' })).rejects.toThrow(/backupId/);
    expect((await cli(['backup', 'restore', 'yesterday', '--target', 'postgres://x/y'], fleet.env)).code).toBe(2);
    expect((await cli(['backup', 'restore', 'latest'], fleet.env)).err.join()).toMatch(/--target <database-url> is required/);
    expect((await cli(['backup', 'restore', 'latest', '--target', 'mysql://x/y'], fleet.env)).code).toBe(2);
    expect((await cli(['backup', 'frobnicate'], fleet.env)).code).toBe(2);
  });
});
