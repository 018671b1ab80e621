import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

// Keys are content-addressed (sha256 of the source), so an object never changes once
// written: browsers and CDNs may keep it for a year without revalidating.
export const CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** Objects already stored under prefix, with their sizes (one request: an image has 4). */
export async function existingObjects(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    for (const o of page.Contents ?? []) if (o.Key) out.set(o.Key, o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Buffer, contentType: string, signal?: AbortSignal): Promise<void> {
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.length, CacheControl: CACHE_CONTROL,
  }), { abortSignal: signal });
}
