import crypto from 'node:crypto';
import { PassThrough, Transform, pipeline, type Readable } from 'node:stream';
import { UploadPartCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Client } from '../../shared/s3.ts';
import { encryptStream } from './crypto.ts';
import { describeExit, libpqTarget, spawnTool } from './pgtools.ts';
import { dumpPattern, type TableRef } from './tables.ts';

export interface DumpOptions {
  s3: S3Client;
  bucket: string;
  key: string;
  pgDump: string;
  databaseUrl: string;
  /** Snapshot exported by the caller's open transaction (pg_export_snapshot). */
  snapshot: string;
  kind: 'full' | 'schema' | 'data';
  tables?: TableRef[];
  encryptionKey?: Buffer;
  partSize: number;
  parallel: number;
  signal: AbortSignal;
  onProgress?: (bytes: number) => void;
}

export class DumpError extends Error {
  override name = 'DumpError';
}

/**
 * The client as lib-storage sees it, except that parts go out with x-amz-content-sha256:
 * UNSIGNED-PAYLOAD instead of the SDK hashing every part for its signature: that would be
 * a second SHA-256 of the whole dump beside ours, and ours (in the manifest, checked by
 * every restore) is the one that vouches for the object. S3, R2, MinIO and Supabase
 * Storage accept it; TLS covers the transport.
 */
function unsignedParts(client: S3Client): S3Client {
  const send = (command: unknown, ...rest: unknown[]) => {
    if (command instanceof UploadPartCommand) {
      command.middlewareStack.add((next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      }, { step: 'build', name: 'fleetBackupUnsignedPart' });
    }
    return (client.send as (...a: unknown[]) => Promise<unknown>).call(client, command, ...rest);
  };
  return new Proxy(client, { get: (target, prop, receiver) => (prop === 'send' ? send : Reflect.get(target, prop, receiver)) });
}

export function pgDumpArgs(o: Pick<DumpOptions, 'snapshot' | 'kind' | 'tables'>, dbname: string): string[] {
  const args = ['--format=custom', `--snapshot=${o.snapshot}`, '--no-password'];
  if (o.kind === 'schema') args.push('--schema-only');
  if (o.kind === 'data') args.push('--data-only');
  for (const t of o.tables ?? []) args.push(`--table=${dumpPattern(t)}`);
  args.push(`--dbname=${dbname}`);
  return args;
}

/**
 * pg_dump stdout → (AES-256-GCM) → sha256 + byte count → S3 multipart upload, streamed:
 * memory stays near parallel × partSize whatever the database size, nothing touches disk.
 *
 * The object is completed only if pg_dump exits 0: the last bytes are held back until its
 * exit status is known, so a dump that dies (killed, connection lost, disk error on the
 * server) fails the stream and lib-storage aborts the multipart upload instead of
 * completing a truncated object. Cancelling via `signal` does the same.
 */
export async function dumpToS3(o: DumpOptions): Promise<{ bytes: number; sha256: string }> {
  o.signal.throwIfAborted();
  const target = libpqTarget(o.databaseUrl);
  const tool = spawnTool(o.pgDump, pgDumpArgs(o, target.dbname), target.env, ['ignore', 'pipe', 'pipe']);
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  let lastProgress = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      if (o.onProgress && Date.now() - lastProgress > 1_000) { lastProgress = Date.now(); o.onProgress(bytes); }
      cb(null, chunk);
    },
    flush(cb) {
      tool.exited.then(
        (exit) => cb(exit.code === 0 ? null : new DumpError(describeExit('pg_dump', exit, tool.stderr()))),
        (err: Error) => cb(err),
      );
    },
  });
  // A few MB of slack between pg_dump and the uploader, so pg_dump keeps writing while a
  // part is being handed to S3 instead of stalling on a full 64 KB pipe.
  const stages: (Readable | Transform)[] = [tool.child.stdout!, new PassThrough({ highWaterMark: 4 * 1024 * 1024 })];
  if (o.encryptionKey) stages.push(encryptStream(o.encryptionKey));
  stages.push(meter);
  // Errors anywhere destroy every stage; the upload sees the error through `meter`.
  pipeline(stages as unknown as [Readable, Transform], () => {});
  tool.exited.catch((err: Error) => meter.destroy(err));

  const onAbort = () => {
    tool.child.kill('SIGTERM');
    meter.destroy(new DumpError(`backup cancelled: ${String((o.signal.reason as Error | undefined)?.message ?? o.signal.reason ?? 'aborted')}`));
  };
  o.signal.addEventListener('abort', onAbort, { once: true });
  const upload = new Upload({
    client: unsignedParts(o.s3),
    params: { Bucket: o.bucket, Key: o.key, Body: meter, ContentType: 'application/octet-stream' },
    partSize: o.partSize,
    queueSize: o.parallel,
    leavePartsOnError: false,
  });
  try {
    await upload.done();
    return { bytes, sha256: hash.digest('hex') };
  } catch (err) {
    // The upload failed first (S3 down, bucket gone): stop pg_dump too.
    meter.destroy();
    throw err;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    if (tool.child.exitCode === null && tool.child.signalCode === null) tool.child.kill('SIGKILL');
    await tool.exited.catch(() => {});
  }
}
