import http from 'node:http';
import path from 'node:path';
import fs from 'node:fs/promises';
import {
  S3Client, CreateBucketCommand, HeadBucketCommand, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { Config } from './config.ts';
import { withMultipartAdmin } from './s3rver-multipart.ts';

export type { S3Client };

// The fleet runs on Node 20 by the user's choice with a pinned SDK; the SDK's notice that
// future releases need Node 22 would otherwise print in every process (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * S3 client for any S3-compatible store. Checksums only when required: Cloudflare R2,
 * Supabase Storage and s3rver reject or mangle the SDK's default CRC32 trailers.
 */
export function createS3Client(s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: boolean }): S3Client {
  const options: S3ClientConfig = {
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  };
  return new S3Client(options);
}

export async function ensureBuckets(client: S3Client, buckets: string[]): Promise<void> {
  for (const Bucket of new Set(buckets)) {
    try {
      await client.send(new HeadBucketCommand({ Bucket }));
    } catch {
      try {
        await client.send(new CreateBucketCommand({ Bucket }));
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
      }
    }
  }
}

export interface EmbeddedS3 { endpoint: string; close(): Promise<void> }

/** Starts s3rver (the embedded local S3 server) with its data under `directory`. */
export async function startEmbeddedS3(directory: string, port: number, host = '127.0.0.1'): Promise<EmbeddedS3> {
  await fs.mkdir(directory, { recursive: true });
  const { default: S3rver } = await import('s3rver');
  const app = new S3rver({ directory, silent: true, allowMismatchedSignatures: true });
  const server = http.createServer(withMultipartAdmin(directory, app.callback()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    endpoint: `http://${host}:${actualPort}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', timeout: 1_000 }, (res) => { res.resume(); resolve(true); });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

/**
 * The S3 endpoint this process should use. With S3_ENDPOINT unset, the first fleet process
 * on the machine starts the embedded server on S3_EMBEDDED_PORT; later ones (CLI, other
 * workers) find it answering and share it.
 */
export async function resolveS3(config: Config): Promise<{ client: S3Client; endpoint: string; embedded?: EmbeddedS3 }> {
  let endpoint = config.s3.endpoint;
  let embedded: EmbeddedS3 | undefined;
  if (!endpoint) {
    const host = '127.0.0.1';
    if (await portAnswers(host, config.s3.embeddedPort)) {
      endpoint = `http://${host}:${config.s3.embeddedPort}`;
    } else {
      try {
        embedded = await startEmbeddedS3(path.resolve(config.dataDir, 's3'), config.s3.embeddedPort, host);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
      }
      endpoint = embedded?.endpoint ?? `http://${host}:${config.s3.embeddedPort}`;
    }
  }
  const client = createS3Client({ ...config.s3, endpoint });
  return { client, endpoint, embedded };
}
