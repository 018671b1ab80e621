// Helpers shared by the image test files: rows, bucket listings, object reads.
import crypto from 'node:crypto';
import { ListObjectsV2Command, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { runJob, type TestFleet } from '../helpers.ts';
import type { AnyJob } from '../../shared/job.ts';

export const PUBLIC_BASE = 'https://cdn.stockroom.test/storage/v1/object/public/images';

export const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

export async function insertInventory(fleet: TestFleet, rows: { image_url?: string | null; r2_url?: string | null }[]): Promise<string[]> {
  const tag = crypto.randomBytes(4).toString('hex');
  const { rows: out } = await fleet.db.query<{ id: string }>(
    `INSERT INTO inventory (external_id, title, image_url, r2_url)
     SELECT $1 || '-' || i, 'Item ' || i, u.image_url, u.r2_url
     FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(image_url, r2_url, i)
     ORDER BY i
     RETURNING id::text`,
    [tag, rows.map((r) => r.image_url ?? null), rows.map((r) => r.r2_url ?? null)],
  );
  return out.map((r) => r.id);
}

export interface Listed { key: string; size: number; lastModified: number }

export async function listObjects(fleet: TestFleet, prefix = ''): Promise<Listed[]> {
  const out: Listed[] = [];
  let token: string | undefined;
  do {
    const page = await fleet.services.s3.send(new ListObjectsV2Command({ Bucket: fleet.config.imageBucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

export async function getObject(fleet: TestFleet, key: string): Promise<Buffer> {
  const res = await fleet.services.s3.send(new GetObjectCommand({ Bucket: fleet.config.imageBucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

export async function headObject(fleet: TestFleet, key: string) {
  return fleet.services.s3.send(new HeadObjectCommand({ Bucket: fleet.config.imageBucket, Key: key }));
}

/** Every migrated row's canonical URL names an object that exists (and its siblings do too). */
export async function danglingRows(fleet: TestFleet): Promise<string[]> {
  const { rows } = await fleet.db.query<{ id: string; image_url: string; sha: string }>(
    `SELECT id::text, image_url, image_source_sha256 AS sha FROM inventory WHERE image_migrated_at IS NOT NULL`);
  const keys = new Set((await listObjects(fleet)).map((o) => o.key));
  const bad: string[] = [];
  for (const r of rows) {
    const key = r.image_url.slice(PUBLIC_BASE.length + 1);
    const siblings = [320, 640, 1280].map((w) => `inventory/${r.id}/${r.sha}-${w}.webp`);
    if (!keys.has(key) || !siblings.every((k) => keys.has(k)) || ![...keys].some((k) => k.startsWith(`inventory/${r.id}/${r.sha}-full.`))) bad.push(r.id);
  }
  return bad;
}

/**
 * Runs one job on fresh workers and returns its result. Reads the job again once finished:
 * runJob can fetch the job an instant before it completes and see no return value yet.
 */
export async function runToResult<R>(fleet: TestFleet, job: AnyJob, payload: unknown): Promise<{ state: string; result: R; failedReason?: string }> {
  const host = await fleet.startWorkers([job]);
  try {
    const run = await runJob(fleet, job.name, payload);
    const fresh = await fleet.services.producer.queue(job.name).getJob(run.id);
    return { state: run.state, result: (fresh?.returnvalue ?? run.result) as R, failedReason: run.failedReason };
  } finally {
    await host.close();
  }
}
