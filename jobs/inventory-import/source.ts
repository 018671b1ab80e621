// Where an export comes from: a local file, an object in S3, or an http(s) URL. Every
// source is bounded in size (IMPORT_MAX_BYTES); a URL also in time (IMPORT_URL_TIMEOUT_MS).
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { JobContext } from '../../shared/job.ts';
import { PermanentJobError } from '../../shared/errors.ts';
import { deadline } from '../../shared/deadline.ts';
import type { ImportSource } from './index.ts';

export interface OpenedSource {
  /** For messages and logs: never carries a URL's query string or credentials. */
  label: string;
  /** Size announced up front (file size, Content-Length), when known: drives the progress estimate. */
  bytes: number | undefined;
  chunks: AsyncIterable<Buffer>;
  /** Releases the file handle or connection when the import stops before reading to the end. */
  close(): void;
}

/** Counts bytes as they stream and stops the import once the limit is passed (a lying Content-Length too). */
async function* bounded(chunks: AsyncIterable<Buffer | Uint8Array | string>, max: number, label: string): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of chunks) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    total += buf.length;
    if (total > max) throw tooLarge(label, max);
    yield buf;
  }
}

/**
 * A file in 256 kB reads into one reused buffer: a large export then churns no memory
 * outside the JavaScript heap. Each chunk must be consumed before the next is requested.
 */
async function* readFile(path: string): AsyncGenerator<Buffer> {
  const file = await fs.promises.open(path, 'r');
  const buffer = Buffer.allocUnsafe(256 * 1024);
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

function tooLarge(label: string, max: number): PermanentJobError {
  return new PermanentJobError(`${label} is larger than IMPORT_MAX_BYTES (${max} bytes); raise the limit or split the export`);
}

/** A URL for messages: origin and path only (a pre-signed URL's query string is a credential). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export async function openSource(source: ImportSource, ctx: JobContext): Promise<OpenedSource> {
  const max = ctx.config.import.maxBytes;
  if ('path' in source) {
    const label = `file ${source.path}`;
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(source.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new PermanentJobError(`${label} does not exist (on the worker's machine)`);
      if (code === 'EACCES') throw new PermanentJobError(`${label} is not readable by the worker`);
      throw err;
    }
    if (!stat.isFile()) throw new PermanentJobError(`${label} is not a regular file`);
    if (stat.size > max) throw tooLarge(label, max);
    // Opened on the first read and closed when reading stops, however it stops.
    return { label, bytes: stat.size, chunks: bounded(readFile(source.path), max, label), close: () => {} };
  }
  if ('s3' in source) {
    const bucket = source.s3.bucket ?? ctx.config.importBucket;
    const label = `s3://${bucket}/${source.s3.key}`;
    let res;
    try {
      res = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: source.s3.key }), { abortSignal: ctx.signal });
    } catch (err) {
      const name = (err as { name?: string }).name;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (name === 'NoSuchKey' || name === 'NoSuchBucket' || status === 404) throw new PermanentJobError(`${label} does not exist`);
      if (name === 'AccessDenied' || status === 403) throw new PermanentJobError(`${label} is not readable with the configured S3 credentials`);
      throw err;
    }
    if (res.ContentLength !== undefined && res.ContentLength > max) {
      (res.Body as Readable | undefined)?.destroy();
      throw tooLarge(label, max);
    }
    if (!res.Body) throw new PermanentJobError(`${label} has no body`);
    const body = res.Body as Readable;
    return { label, bytes: res.ContentLength, chunks: bounded(body, max, label), close: () => body.destroy() };
  }
  const label = `URL ${safeUrl(source.url)}`;
  // One deadline for the whole download, and the job's own signal (shutdown, job timeout);
  // cleared when the body closes, or at once when none is handed on (see shared/deadline.ts).
  const limit = deadline(ctx.config.import.urlTimeoutMs, ctx.signal);
  try {
    let res: Response;
    try {
      res = await fetch(source.url, { signal: limit.signal, redirect: 'follow' });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      throw new Error(`${label} could not be fetched: ${limit.timedOut ? 'timed out' : (err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      const message = `${label} answered HTTP ${res.status}`;
      // 4xx will not change on retry (except 408/429); 5xx might.
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentJobError(message);
      throw new Error(message);
    }
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length > max) {
      await res.body.cancel().catch(() => {});
      throw tooLarge(label, max);
    }
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.once('close', () => limit.clear());
    return { label, bytes: Number.isFinite(length) ? length : undefined, chunks: bounded(body, max, label), close: () => body.destroy() };
  } catch (err) {
    limit.clear();
    throw err;
  }
}
