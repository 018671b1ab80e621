import { ListObjectsV2Command, DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';

export interface StoredObject { key: string; bytes: number; lastModified: number }

export async function listBucket(s3: S3Client, bucket: string, signal?: AbortSignal): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  let token: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 1000 }), { abortSignal: signal });
    for (const o of page.Contents ?? []) {
      if (o.Key) out.push({ key: o.Key, bytes: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Deletes keys 1,000 per request (the S3 maximum); returns the keys that failed, with why. */
export async function deleteKeys(s3: S3Client, bucket: string, keys: string[]): Promise<{ key: string; error: string }[]> {
  const failed: { key: string; error: string }[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const res = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    for (const e of res.Errors ?? []) failed.push({ key: e.Key ?? '?', error: `${e.Code ?? 'Error'}: ${e.Message ?? ''}`.trim() });
  }
  return failed;
}
