import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { Readable, Writable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '../../shared/s3.ts';
import { databaseName, ensureDatabase } from '../../shared/db.ts';
import { decryptStream, keyId, parseEncryptionKey } from './crypto.ts';
import { checkObject, openObject, verifyingStream } from './integrity.ts';
import type { Manifest } from './manifest.ts';
import { describeExit, libpqTarget, majorOf, pgBinary, spawnTool, toolVersion } from './pgtools.ts';
import { checkTarget, RestoreRefusedError } from './target.ts';

export { ChecksumMismatchError } from './integrity.ts';
export { RestoreRefusedError, compareCounts, type CountCheck } from './target.ts';

export interface RestoreOptions {
  s3: S3Client;
  bucket: string;
  manifest: Manifest;
  /** postgres:// URL of the database to restore into. */
  targetUrl: string;
  /** Create the target database when it does not exist (only after the checksum passed). */
  createTarget?: boolean;
  /** Drop and recreate the backup's objects in a non-empty target (pg_restore --clean --if-exists). */
  clean?: boolean;
  /** pg_restore --jobs; above 1 the object is spooled to a temporary file first [1]. */
  jobs?: number;
  /** BACKUP_ENCRYPTION_KEY, for encrypted backups. */
  encryptionKey?: string;
  pgBinDir?: string;
  /** Where the spool file goes when jobs > 1 [os.tmpdir()]. */
  tmpDir?: string;
  signal?: AbortSignal;
  onPhase?: (phase: 'checksum' | 'download' | 'restore', detail: string) => void;
}

export interface RestoreOutcome {
  /** 'stream': hashed in a first pass, restored from a second; 'file': spooled, then pg_restore -j. */
  mode: 'stream' | 'file';
  /** Fetching and checking the object (first pass, or download to the spool file). */
  checkMs: number;
  /** pg_restore itself (for 'stream', includes the second download it reads from). */
  restoreMs: number;
  durationMs: number;
}

function resolveKey(o: RestoreOptions): Buffer | undefined {
  const enc = o.manifest.encryption;
  if (!enc) return undefined;
  if (!o.encryptionKey) throw new RestoreRefusedError(`backup ${o.manifest.backupId} is encrypted (key id ${enc.keyId}); set BACKUP_ENCRYPTION_KEY to the key it was made with`);
  const key = parseEncryptionKey(o.encryptionKey);
  if (keyId(key) !== enc.keyId) {
    throw new RestoreRefusedError(`backup ${o.manifest.backupId} was encrypted with key id ${enc.keyId}, but BACKUP_ENCRYPTION_KEY has key id ${keyId(key)}: wrong key`);
  }
  return key;
}

/**
 * Restores a backup into a database, refusing a corrupted object before anything reaches
 * the target. The whole object must be hashed before it can be trusted, so either
 *  - jobs = 1 (default): a first streamed pass hashes it, a second pass (pinned to the same
 *    ETag, hashed again) feeds pg_restore --single-transaction: no disk needed, and a
 *    failure at any point rolls the whole restore back; or
 *  - jobs > 1: one pass spools it (decrypted, mode 0600) to a temporary file while hashing,
 *    because pg_restore --jobs needs a seekable file; it is deleted afterwards.
 * Memory stays flat either way (streams with backpressure, 1 MiB encryption chunks).
 */
export async function restoreBackup(o: RestoreOptions): Promise<RestoreOutcome> {
  const started = performance.now();
  const m = o.manifest;
  const jobs = o.jobs ?? 1;
  const pgRestore = pgBinary('pg_restore', o.pgBinDir);
  const version = await toolVersion(pgRestore);
  if (majorOf(version) < majorOf(m.pgDumpVersion)) {
    throw new RestoreRefusedError(`pg_restore ${version} is older than the pg_dump ${m.pgDumpVersion} that made backup ${m.backupId}; use PostgreSQL ${majorOf(m.pgDumpVersion)}+ client tools (PG_BIN_DIR)`);
  }
  const key = resolveKey(o);
  const { exists } = await checkTarget(o.targetUrl, m, Boolean(o.clean));
  if (!exists && !o.createTarget) throw new RestoreRefusedError(`target database "${databaseName(o.targetUrl)}" does not exist`);
  const create = async () => {
    if (!exists && await ensureDatabase(o.targetUrl)) o.onPhase?.('restore', `created database ${databaseName(o.targetUrl)}`);
  };

  const target = libpqTarget(o.targetUrl);
  const args = [`--dbname=${target.dbname}`, '--no-password', '--no-owner', '--no-acl', '--exit-on-error'];
  if (o.clean && m.kind !== 'data') args.push('--clean', '--if-exists');
  const decrypt = (): Transform[] => (key ? [decryptStream(key)] : []);

  if (jobs <= 1) {
    o.onPhase?.('checksum', `hashing ${m.object.bytes} bytes`);
    const { etag } = await checkObject(o.s3, o.bucket, m, o.signal);
    const checked = performance.now();
    await create();
    o.onPhase?.('restore', 'checksum ok; streaming into pg_restore (one transaction)');
    const tool = spawnTool(pgRestore, [...args, '--single-transaction'], target.env, ['pipe', 'ignore', 'pipe']);
    const kill = () => { tool.child.kill('SIGKILL'); };
    o.signal?.addEventListener('abort', kill, { once: true });
    try {
      const { body } = await openObject(o.s3, o.bucket, m.object.key, o.signal, etag);
      const streams: (Readable | Transform | Writable)[] = [body, verifyingStream(m.object, kill), ...decrypt(), tool.child.stdin!];
      const [feeding, exit] = await Promise.allSettled([pipeline(streams as unknown as [Readable, Writable]), tool.exited]);
      o.signal?.throwIfAborted();
      if (exit.status === 'rejected') throw exit.reason;
      if (feeding.status === 'rejected') {
        // pg_restore stopping first shows up here as a broken pipe: its own message is the cause.
        const code = (feeding.reason as { code?: string }).code;
        const brokenPipe = code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET';
        if (!(brokenPipe && exit.value.code !== 0)) throw feeding.reason;
      }
      if (exit.value.code !== 0) throw new Error(describeExit('pg_restore', exit.value, tool.stderr()));
      const done = performance.now();
      return { mode: 'stream', checkMs: checked - started, restoreMs: done - checked, durationMs: done - started };
    } finally {
      o.signal?.removeEventListener('abort', kill);
      if (tool.child.exitCode === null && tool.child.signalCode === null) kill();
      await tool.exited.catch(() => {});
    }
  }

  const dir = await fs.promises.mkdtemp(path.join(o.tmpDir ?? os.tmpdir(), 'fleet-restore-'));
  try {
    const file = path.join(dir, `${m.backupId}.dump`);
    o.onPhase?.('download', `downloading ${m.object.bytes} bytes to ${file}`);
    const { body } = await openObject(o.s3, o.bucket, m.object.key, o.signal);
    const out = fs.createWriteStream(file, { mode: 0o600 });
    await pipeline([body, verifyingStream(m.object), ...decrypt(), out] as unknown as [Readable, Writable], { signal: o.signal });
    const checked = performance.now();
    await create();
    o.onPhase?.('restore', `checksum ok; pg_restore --jobs=${jobs}`);
    const tool = spawnTool(pgRestore, [...args, `--jobs=${jobs}`, file], target.env, ['ignore', 'ignore', 'pipe']);
    const kill = () => { tool.child.kill('SIGTERM'); };
    o.signal?.addEventListener('abort', kill, { once: true });
    try {
      const exit = await tool.exited;
      if (exit.code !== 0) throw new Error(describeExit('pg_restore', exit, tool.stderr()));
    } finally {
      o.signal?.removeEventListener('abort', kill);
    }
    const done = performance.now();
    return { mode: 'file', checkMs: checked - started, restoreMs: done - checked, durationMs: done - started };
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
