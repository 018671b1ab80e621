import fs from 'node:fs/promises';
import { describe, it, expect, beforeAll, inject } from 'vitest';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { useTestFleet, spawnWorker, waitFor } from '../helpers.ts';
import { fromEnv } from '../../shared/config.ts';
import { createServices } from '../../shared/services.ts';
import { createLogger } from '../../shared/logger.ts';
import { startHost } from '../../shared/host.ts';
import { allJobs } from '../../jobs/index.ts';
import backupExport from '../../jobs/backup/backup-export.ts';
import { dumpKey, manifestKey } from '../../jobs/backup/keys.ts';
import { unfinishedUploads, cli, restoreTarget } from './fixtures/support.ts';
import { startGate, isUploadPart } from './fixtures/gate.ts';

// Small parts, one in flight, quick stall detection: a held UploadPart freezes the dump
// after ~5 MB, with a multipart upload open in the store.
const fleet = useTestFleet({ BACKUP_PART_SIZE_MB: '5', BACKUP_UPLOAD_PARALLEL: '1', WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' });

/** pids of pg_dump processes whose parent is `ppid`. */
async function pgDumpChildren(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const m = /^(\d+) \((.*)\) \S (\d+)/.exec(stat);
    if (m && m[2] === 'pg_dump' && Number(m[3]) === ppid) out.push(Number(m[1]));
  }
  return out;
}

async function objectKeys(): Promise<string[]> {
  const res = await fleet.services.s3.send(new ListObjectsV2Command({ Bucket: fleet.config.backupBucket, Prefix: 'pg/' }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

async function backups(): Promise<{ id: string; status: string; error: string | null }[]> {
  return (await fleet.db.query('SELECT id, status, error FROM backups ORDER BY started_at')).rows;
}

describe('a backup killed midway', () => {
  beforeAll(async () => {
    // ~27 MB of hard-to-compress text: the dump (~15 MB) cannot fit in the buffers in front of a held part.
    await fleet.db.query(`CREATE TABLE filler (id int PRIMARY KEY, payload text NOT NULL)`);
    await fleet.db.query(`INSERT INTO filler SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 17)::text) FROM generate_series(1, 200000) g`);
  });

  it('pg_dump killed: the multipart upload is aborted, the row failed, no manifest, nothing completed', async () => {
    const gate = await startGate(inject('s3Endpoint'), isUploadPart);
    const services = await createServices(fromEnv({ ...fleet.env, S3_ENDPOINT: gate.url }), allJobs, { log: createLogger('silent'), buckets: false });
    const host = await startHost(services, [backupExport]);
    try {
      const id = await fleet.services.producer.enqueue('backup-export', {});
      await gate.held;
      expect(await unfinishedUploads(fleet.services.s3, fleet.config.backupBucket)).toHaveLength(1);
      const [pid] = await waitFor(async () => { const p = await pgDumpChildren(process.pid); return p.length ? p : undefined; }, { what: 'pg_dump' });
      process.kill(pid!, 'SIGKILL');
      gate.open();
      const failed = await waitFor(async () => (await backups()).find((b) => b.status === 'failed'), { what: 'the backup row to fail' });
      expect(failed.error).toMatch(/^pg_dump was killed by SIGKILL/);
      const queue = fleet.services.producer.queue('backup-export');
      await waitFor(async () => (await (await queue.getJob(id))!.getState()) === 'delayed', { what: 'the job to wait for its retry' });
      const job = await queue.getJob(id); // read again: a copy fetched earlier lacks the attempt count
      expect(job!.attemptsMade).toBe(1);
      await job!.remove();
    } finally {
      await host.close();
      await services.close();
      await gate.close();
    }
    expect((await backups()).map((b) => b.status)).toEqual(['failed']);
    expect(await unfinishedUploads(fleet.services.s3, fleet.config.backupBucket)).toEqual([]);
    expect(await objectKeys()).toEqual([]);
  });

  it('worker SIGKILLed mid-upload: the retry aborts the orphaned upload, fails the dead row, completes one backup', async () => {
    const gate = await startGate(inject('s3Endpoint'), isUploadPart);
    const worker = await spawnWorker('backup-export', { ...fleet.env, S3_ENDPOINT: gate.url }, { logLevel: 'warn' });
    let host;
    try {
      const id = await fleet.services.producer.enqueue('backup-export', {});
      await gate.held;
      const dead = (await backups()).find((b) => b.status === 'running')!;
      expect(dead).toBeDefined();
      expect(await unfinishedUploads(fleet.services.s3, fleet.config.backupBucket)).toEqual([dumpKey(dead.id)]);
      worker.kill('SIGKILL');
      expect(await worker.exited).toBe('SIGKILL');
      gate.open();
      // Nobody is left to clean up: the row still says running and the upload is still open.
      expect((await backups()).find((b) => b.id === dead.id)!.status).toBe('running');
      expect(await unfinishedUploads(fleet.services.s3, fleet.config.backupBucket)).toEqual([dumpKey(dead.id)]);

      host = await fleet.startWorkers([backupExport]);
      const job = await fleet.services.producer.queue('backup-export').getJob(id);
      await waitFor(async () => (await job!.getState()) === 'completed', { timeoutMs: 45_000, what: 'the stalled job to be retried and complete' });
      const done = (await fleet.services.producer.queue('backup-export').getJob(id))!.returnvalue as { backupId: string };
      const rows = await backups();
      // The first test's failed row, the dead attempt's row, and the retry's backup.
      expect(rows.map((b) => b.status)).toEqual(['failed', 'failed', 'completed']);
      expect(rows.slice(1).map((b) => b.id)).toEqual([dead.id, done.backupId]);
      expect(rows.find((b) => b.id === dead.id)!.error).toMatch(/^interrupted: the worker stopped mid-backup/);
      expect(await unfinishedUploads(fleet.services.s3, fleet.config.backupBucket)).toEqual([]);
      expect(await objectKeys()).toEqual([dumpKey(done.backupId), manifestKey(done.backupId)].sort());
    } finally {
      await host?.close();
      worker.kill('SIGKILL');
      await gate.close();
    }
  });

  it('the backup the retry made restores with matching counts', async () => {
    const target = restoreTarget();
    try {
      const run = await cli(['backup', 'restore', 'latest', '--target', target.url], fleet.env);
      expect(run.code, run.err.join('\n')).toBe(0);
      expect(run.last).toMatchObject({ countsMatch: true });
    } finally {
      await target.drop();
    }
  });
});
