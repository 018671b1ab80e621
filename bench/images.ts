// image-migration through the fleet (a worker process: download from a local HTTP server,
// checks, sharp, upload to S3, row updates) versus a raw sharp loop over the same files on
// local disk producing the same outputs. Both run as child processes with MALLOC_ARENA_MAX=2
// and the same number of images in flight; rounds alternate so a burst of load elsewhere on
// the machine hits both sides alike, and the best round of each counts.
// Knobs: IMAGE_CONCURRENCY (both sides), BENCH_WORKER_NODE_FLAGS (e.g. "--cpu-prof --trace-gc"
// for the worker process, whose stdout is then shown).
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { QueueEvents } from 'bullmq';
import { fromEnv } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createServices, type Services } from '../shared/services.ts';
import { ensureDatabase, withDatabase, databaseName, createPool, quoteIdent } from '../shared/db.ts';
import { migrate } from '../shared/migrate.ts';
import { startEmbeddedS3 } from '../shared/s3.ts';
import { allJobs } from '../jobs/index.ts';
import type { ImageMigrationResult } from '../jobs/image-migration/handler.ts';
import { ensureCorpus } from './images/corpus.ts';
import { deleteKeysWithPrefix, workerConnection } from '../shared/redis.ts';
import { serveFiles, freePort, runTs, peakRssMb, cpuSeconds, threadCpuSeconds, type FileServer } from './images/support.ts';
import { row, fmt, type Bench } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const CHILD_ENV = { ...process.env, MALLOC_ARENA_MAX: '2' };

interface Pass { rate: number; seconds: number; cpuPerImage: number; bytesOut: number; mainThreadCpuPerImage?: number; serversCpuPerImage?: number }

async function rawPass(files: string[], parallel: number): Promise<Pass & { peakRssMb: number; sharpConcurrency: number }> {
  const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fleet-bench-raw-'));
  try {
    const out = await runTs(ROOT, ['bench/images/raw-sharp.ts', outDir, String(parallel), ...files], CHILD_ENV);
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; cpuSeconds: number; images: number; bytesOut: number; peakRssMb: number; sharpConcurrency: number };
    return { ...r, rate: r.images / r.seconds, cpuPerImage: r.cpuSeconds / r.images };
  } finally {
    await fs.rm(outDir, { recursive: true, force: true });
  }
}

/** Fresh rows each pass (new ids, new keys): a pass never finds the previous one's objects. */
async function fleetPass(services: Services, events: QueueEvents, images: FileServer, n: number, pass: number, workerPid: number): Promise<Pass & { result: ImageMigrationResult }> {
  const { rows } = await services.db.query<{ id: string }>(
    `INSERT INTO inventory (external_id, title, image_url)
     SELECT 'bench-' || $2 || '-' || i, 'Bench ' || i, u FROM unnest($1::text[]) WITH ORDINALITY AS x(u, i) ORDER BY i RETURNING id::text`,
    [Array.from({ length: n }, (_, i) => images.url(i)), pass]);
  const queue = services.producer.queue('image-migration');
  const cpu0 = await cpuSeconds(workerPid);
  const here0 = process.cpuUsage();
  const main0 = await threadCpuSeconds(workerPid, workerPid);
  const started = performance.now();
  const id = await services.producer.enqueue('image-migration', { table: 'inventory', ids: rows.map((r) => r.id) }, { enqueuedBy: 'bench' });
  // Told by the queue's event stream, not by polling: this process shares the cores.
  await (await queue.getJob(id))!.waitUntilFinished(events).catch(() => {});
  const seconds = (performance.now() - started) / 1000;
  const cpu = (await cpuSeconds(workerPid)) - cpu0;
  const here = process.cpuUsage(here0);
  const mainCpu = (await threadCpuSeconds(workerPid, workerPid)) - main0;
  const job = await queue.getJob(id);
  const result = job?.returnvalue as ImageMigrationResult | undefined;
  if (!result || result.migrated !== n || result.failedTotal) throw new Error(`image-migration did not migrate all ${n}: ${job?.failedReason ?? JSON.stringify(result)}`);
  return { rate: n / seconds, seconds, cpuPerImage: cpu / n, mainThreadCpuPerImage: mainCpu / n, serversCpuPerImage: (here.user + here.system) / 1e6 / n, bytesOut: result.bytesOut, result };
}

async function canonicalBytes(services: Services, bucket: string): Promise<{ bytes: number; count: number }> {
  let bytes = 0;
  let count = 0;
  let token: string | undefined;
  do {
    const page = await services.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key?.endsWith('-1280.webp')) { bytes += o.Size ?? 0; count++; }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { bytes, count };
}

const bench: Bench = async ({ quick }) => {
  const n = quick ? 30 : 200;
  const rounds = quick ? 2 : 3;
  const log = (l: string) => console.error(l);
  const files = await ensureCorpus(n, log);
  const sourceBytes = (await Promise.all(files.map((f) => fs.stat(f)))).reduce((s, st) => s + st.size, 0);

  const base = fromEnv(process.env);
  const runId = Date.now().toString(36);
  const dbUrl = withDatabase(base.databaseUrl, `${databaseName(base.databaseUrl)}_bench_images_${runId}`);
  const s3Dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fleet-bench-s3-'));
  const s3 = await startEmbeddedS3(s3Dir, 0);
  const images = await serveFiles(files);
  const port = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: dbUrl, QUEUE_PREFIX: `benchimg${runId}`, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER',
    IMAGE_BUCKET: 'bench-images', IMAGE_SOURCE_HOSTS: '127.0.0.1', IMAGE_ALLOW_PRIVATE_NETWORKS: 'true', IMAGE_PUBLIC_BASE_URL: 'https://cdn.bench.test/images',
    LOG_LEVEL: 'warn', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port),
    ...(process.env.IMAGE_CONCURRENCY ? { IMAGE_CONCURRENCY: process.env.IMAGE_CONCURRENCY } : {}),
  };
  const config = fromEnv({ ...process.env, ...env });
  let services: Services | undefined;
  let worker: ReturnType<typeof spawn> | undefined;
  const eventsRedis = workerConnection(config.redisUrl);
  const events = new QueueEvents('image-migration', { connection: eventsRedis, prefix: config.queuePrefix });
  try {
    await events.waitUntilReady();
    await ensureDatabase(dbUrl);
    await migrate(dbUrl);
    services = await createServices(config, allJobs, { log: createLogger('warn') });
    worker = spawn(process.execPath, ['--import', 'tsx', '--openssl-legacy-provider', ...(process.env.BENCH_WORKER_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), 'workers/image-migration.ts'],
      { cwd: ROOT, env: { ...CHILD_ENV, ...env }, stdio: ['ignore', process.env.BENCH_WORKER_NODE_FLAGS ? 'inherit' : 'ignore', 'inherit'] });
    for (let i = 0; !(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (i > 300) throw new Error('image-migration worker did not start');
      await new Promise((r) => setTimeout(r, 100));
    }

    const raws: Awaited<ReturnType<typeof rawPass>>[] = [];
    const fleets: Awaited<ReturnType<typeof fleetPass>>[] = [];
    for (let round = 0; round < rounds; round++) {
      log(`round ${round + 1}/${rounds}: raw sharp on ${n} files…`);
      raws.push(await rawPass(files, config.imageConcurrency));
      log(`round ${round + 1}/${rounds}: image-migration worker on ${n} rows…`);
      fleets.push(await fleetPass(services, events, images, n, round, worker.pid!));
    }
    const workerRss = await peakRssMb(worker.pid!);
    const best = <T extends Pass>(xs: T[]) => xs.reduce((a, b) => (b.rate > a.rate ? b : a));
    const raw = best(raws);
    const fleet = best(fleets);
    const canonical = await canonicalBytes(services, config.imageBucket);
    const perImage = canonical.bytes / canonical.count;
    const mb = (b: number) => `${fmt(b / 2 ** 20)} MB`;
    return [row('images (2000×1500 JPEG → 3 WebP + full JPEG)',
      { label: `image-migration worker, ${config.imageConcurrency} in flight`, rate: fleet.rate, unit: 'images/s', peakRssMb: workerRss },
      { label: `raw sharp loop, ${config.imageConcurrency} in flight`, rate: raw.rate, unit: 'images/s', peakRssMb: raw.peakRssMb },
      0.85,
      [`${n} images per pass, best of ${rounds} alternating round(s): fleet ${fleets.map((f) => fmt(f.rate)).join('/')} images/s, raw ${raws.map((r) => fmt(r.rate)).join('/')} images/s; sharp.concurrency ${raw.sharpConcurrency} (MALLOC_ARENA_MAX=2)`,
        `fleet pass includes HTTP download, magic-byte/header checks, sha256, S3 uploads (${fleet.result.uploaded} objects to s3rver on this machine; no listing on a first run) and row updates`,
        `CPU per image: worker ${fleet.cpuPerImage.toFixed(3)} s (its JS thread ${(fleet.mainThreadCpuPerImage ?? 0).toFixed(3)} s), raw loop ${raw.cpuPerImage.toFixed(3)} s; beside the worker, this process (s3rver and the source file server) ${(fleet.serversCpuPerImage ?? 0).toFixed(3)} s; peak RSS worker ${Math.round(workerRss)} MB, raw loop ${Math.round(raw.peakRssMb)} MB`,
        `bytes: source JPEGs ${mb(sourceBytes / n)} avg; image_url (1280 WebP) ${mb(perImage)} avg = ${(100 * (1 - perImage / (sourceBytes / n))).toFixed(1)}% saved per view; all 4 variants ${mb(fleet.bytesOut / n)} avg per image (raw loop ${mb(raw.bytesOut / n)})`])];
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    await events.close();
    eventsRedis.disconnect();
    await services?.close();
    await deleteKeysWithPrefix(config.redisUrl, env.QUEUE_PREFIX!);
    await images.close();
    await s3.close();
    await fs.rm(s3Dir, { recursive: true, force: true });
    const admin = createPool(withDatabase(base.databaseUrl), { max: 1 });
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(databaseName(dbUrl))} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
};

export default bench;
