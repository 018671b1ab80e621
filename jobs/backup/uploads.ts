import { AbortMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '../../shared/s3.ts';
import type { Logger } from '../../shared/logger.ts';

function notSupported(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotImplemented' || e.Code === 'NotImplemented' || e.$metadata?.httpStatusCode === 501;
}

/**
 * Aborts every unfinished multipart upload under `prefix` (a dead exporter's parts, which
 * object stores keep, and bill, until aborted). Only safe while no export can be running:
 * the caller holds the export lock. A store without ListMultipartUploads is logged and
 * skipped; configure an AbortIncompleteMultipartUpload lifecycle rule there instead.
 */
export async function abortUnfinishedUploads(s3: S3Client, bucket: string, prefix: string, log: Logger): Promise<{ aborted: string[]; supported: boolean }> {
  const aborted: string[] = [];
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  for (let page = 0; page < 100; page++) {
    let res;
    try {
      res = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, UploadIdMarker }));
    } catch (err) {
      if (!notSupported(err)) throw err;
      log.warn({ bucket }, 'object store does not list multipart uploads; relying on its lifecycle rules to expire unfinished ones');
      return { aborted, supported: false };
    }
    for (const u of res.Uploads ?? []) {
      if (!u.Key || !u.UploadId) continue;
      try {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted.push(u.Key);
      } catch (err) {
        if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
      }
    }
    if (!res.IsTruncated) break;
    KeyMarker = res.NextKeyMarker;
    UploadIdMarker = res.NextUploadIdMarker;
  }
  if (aborted.length) log.warn({ bucket, keys: aborted }, 'aborted unfinished multipart uploads left by an interrupted backup');
  return { aborted, supported: true };
}

/** Deletes objects by key; a missing object is not an error (deletes are idempotent). */
export async function deleteObjects(s3: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (const Key of keys) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
}
