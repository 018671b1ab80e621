import { z } from 'zod';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '../../shared/s3.ts';
import { BACKUP_PREFIX, idOfManifestKey, manifestKey } from './keys.ts';

// The manifest is written beside the dump only after the dump is complete and checksummed,
// so its presence means "this object is whole". It is read back from storage at restore
// time, so it is parsed like any untrusted input: bounded size, strict schema.

export const MANIFEST_FORMAT = 'stockroom-fleet-backup';
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const encryptionSchema = z.strictObject({
  algorithm: z.literal('AES-256-GCM'),
  scheme: z.literal('fleet-stream-v1'),
  chunkSize: z.number().int().positive(),
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
});

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(1),
  backupId: z.string().uuid(),
  kind: z.enum(['full', 'schema', 'data']),
  label: z.string().max(200).nullable(),
  database: z.string().max(200),
  /** Tables the dump was limited to (pg_dump --table), or null for the whole database. */
  tableFilter: z.array(z.string().max(200)).max(1000).nullable(),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().int().nonnegative(),
  serverVersion: z.string().max(200),
  serverVersionNum: z.number().int().positive(),
  pgDumpVersion: z.string().max(200),
  dumpFormat: z.literal('custom'),
  object: z.strictObject({
    key: z.string().max(1024),
    bytes: z.number().int().nonnegative(),
    /** sha256 of the stored object exactly as in the bucket (the ciphertext when encrypted). */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    sha256Of: z.literal('stored-object'),
  }),
  /** Rows per table contained in the dump, counted in the dump's own snapshot ("schema.table"). */
  tables: z.record(z.string().max(300), z.number().int().nonnegative()),
  encryption: encryptionSchema.nullable(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export async function writeManifest(s3: S3Client, bucket: string, manifest: Manifest): Promise<string> {
  const Key = manifestKey(manifest.backupId);
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key, Body: JSON.stringify(manifest, null, 2), ContentType: 'application/json',
  }));
  return Key;
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export async function readManifest(s3: S3Client, bucket: string, id: string): Promise<Manifest> {
  const Key = manifestKey(id);
  let text: string;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
    if ((res.ContentLength ?? 0) > MAX_MANIFEST_BYTES) throw new ManifestError(`manifest ${Key} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    text = await res.Body!.transformToString();
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    const name = (err as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') {
      throw new ManifestError(`no backup ${id} in bucket ${bucket} (manifest ${Key} not found; only completed backups have one)`);
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ManifestError(`manifest ${Key} is not valid JSON`);
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) {
    throw new ManifestError(`manifest ${Key} is not a valid backup manifest: ${result.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (result.data.backupId !== id) throw new ManifestError(`manifest ${Key} names backup ${result.data.backupId}, not ${id}`);
  return result.data;
}

/** Ids of every backup with a manifest in the bucket, oldest first (ids are time-ordered). */
export async function listManifestIds(s3: S3Client, bucket: string): Promise<string[]> {
  const ids: string[] = [];
  let ContinuationToken: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: BACKUP_PREFIX, ContinuationToken }));
    for (const o of res.Contents ?? []) {
      const id = o.Key ? idOfManifestKey(o.Key) : undefined;
      if (id) ids.push(id);
    }
    if (!res.IsTruncated || !res.NextContinuationToken) break;
    ContinuationToken = res.NextContinuationToken;
  }
  return ids.sort();
}
