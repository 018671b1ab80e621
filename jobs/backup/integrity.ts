import crypto from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '../../shared/s3.ts';
import { PermanentJobError } from '../../shared/errors.ts';
import type { Manifest } from './manifest.ts';

export class ChecksumMismatchError extends PermanentJobError {
  constructor(message: string) {
    super(message);
    this.name = 'ChecksumMismatchError';
  }
}

/**
 * Passes bytes through while hashing them; at the end, before signalling end-of-stream
 * downstream, compares size and sha256 with the manifest and fails the stream on any
 * difference. `beforeFail` runs first, so a consumer (pg_restore) can be killed before it
 * ever sees a clean end of input.
 */
export function verifyingStream(expected: Manifest['object'], beforeFail?: () => void): Transform {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes > expected.bytes) {
        beforeFail?.();
        return cb(new ChecksumMismatchError(`backup object ${expected.key} is larger than the ${expected.bytes} bytes its manifest records; refusing it`));
      }
      cb(null, chunk);
    },
    flush(cb) {
      const sha256 = hash.digest('hex');
      if (bytes !== expected.bytes || sha256 !== expected.sha256) {
        beforeFail?.();
        return cb(new ChecksumMismatchError(
          `backup object ${expected.key} does not match its manifest (sha256 ${sha256}, ${bytes} bytes; expected ${expected.sha256}, ${expected.bytes} bytes): `
          + 'it was corrupted or replaced; refusing to restore it'));
      }
      cb();
    },
  });
}

export async function openObject(s3: S3Client, bucket: string, key: string, signal?: AbortSignal, ifMatch?: string): Promise<{ body: Readable; etag: string | undefined }> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: ifMatch }), { abortSignal: signal });
    if (ifMatch && res.ETag && res.ETag !== ifMatch) {
      (res.Body as Readable).destroy();
      throw new ChecksumMismatchError(`backup object ${key} changed while it was being restored (ETag ${res.ETag}, was ${ifMatch}); refusing it`);
    }
    return { body: res.Body as Readable, etag: res.ETag };
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') throw new ChecksumMismatchError(`backup object ${key} is missing from bucket ${bucket}`);
    if (name === 'PreconditionFailed') throw new ChecksumMismatchError(`backup object ${key} changed while it was being restored; refusing it`);
    throw err;
  }
}

/** First pass of a streamed restore: hash the whole stored object without writing anywhere. */
export async function checkObject(s3: S3Client, bucket: string, manifest: Manifest, signal?: AbortSignal): Promise<{ etag: string | undefined }> {
  const { body, etag } = await openObject(s3, bucket, manifest.object.key, signal);
  const sink = new Writable({ write(_chunk, _enc, cb) { cb(); } });
  await pipeline(body, verifyingStream(manifest.object), sink, { signal });
  return { etag };
}
