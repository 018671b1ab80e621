// inventory-import versus a raw COPY of the same rows. The job reads a generated export of
// 1,000,000 items (50,000 with BENCH_QUICK) in a child process whose peak RSS is measured;
// the baseline COPYs the rows the job produced, already parsed, as CSV, into a table with
// the same columns and indexes (LIKE inventory INCLUDING ALL). A row-by-row INSERT import
// is timed on a sample and extrapolated, for comparison. Everything runs in a database of
// its own, dropped afterwards; the export lives in a temporary directory, deleted too.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { fromEnv } from '../shared/config.ts';
import { connectionConfig, ensureDatabase, quoteIdent, withDatabase } from '../shared/db.ts';
import { migrate } from '../shared/migrate.ts';
import { deleteKeysWithPrefix } from '../shared/redis.ts';
import { writeExport } from './generators/aliexpress.ts';
import { backendCpuSeconds } from './lib-cpu.ts';
import { fmt, row, type Bench } from './lib.ts';

const COLUMNS = 'external_id, variant_key, title, category, unit_price, quantity, attributes, store_name, image_url, status';
const RSS_TARGET_MB = 256;

interface ChildReport {
  ms: number; maxRssMb: number; cpuS: number; dbCpuS: number | null;
  result: { items: number; inserted: number; rejected: number; skippedCancelled: number };
}

function runChild(env: Record<string, string>): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--openssl-legacy-provider', 'bench/import-child.ts'], {
      env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1);
      if (code !== 0 || !last) return reject(new Error(`import child exited with ${code}: ${out}`));
      resolve(JSON.parse(last) as ChildReport);
    });
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const bench: Bench = async ({ quick }) => {
  const items = quick ? 50_000 : 1_000_000;
  const loadAtStart = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const base = fromEnv(process.env);
  const id = crypto.randomBytes(4).toString('hex');
  const dbName = `fleet_bench_import_${id}`;
  const databaseUrl = withDatabase(base.databaseUrl, dbName);
  const prefix = `bench-import-${id}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-bench-import-'));
  const file = path.join(dir, 'export.json');
  const csv = path.join(dir, 'rows.csv');
  await ensureDatabase(databaseUrl);
  const db = new pg.Client(connectionConfig(databaseUrl));
  try {
    await migrate(databaseUrl);
    await db.connect();
    console.error(`generating an export of ${items.toLocaleString('en-US')} items…`);
    const stats = await writeExport(file, { items, seed: 2025 });

    // The job, in its own process.
    console.error(`importing ${(stats.bytes / 2 ** 20).toFixed(0)} MB with the inventory-import job…`);
    const job = await runChild({
      DATABASE_URL: databaseUrl, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn', BENCH_IMPORT_FILE: file,
      // No S3 in this benchmark: an address that is never called keeps the embedded server from starting.
      S3_ENDPOINT: 'http://127.0.0.1:9',
    });
    const rows = job.result.inserted;

    // Raw COPY of the same rows, already parsed, into the same columns and indexes.
    // In the export's order (item ids are random there, so a hash order is the same thing),
    // not the job's insertion order, which is sorted batch by batch.
    await pipeline(db.query(copyTo(`COPY (SELECT ${COLUMNS} FROM inventory ORDER BY md5(external_id || variant_key)) TO STDOUT (FORMAT csv)`)), fs.createWriteStream(csv));
    await db.query('CREATE TABLE bench_raw_inventory (LIKE inventory INCLUDING ALL)');
    const copyMs: number[] = [];
    const copyCpu: number[] = [];
    const backend = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    for (let round = 0; round < 2; round++) {
      await db.query('TRUNCATE bench_raw_inventory');
      await db.query('CHECKPOINT');
      const before = backendCpuSeconds(backend);
      const client = process.cpuUsage();
      copyMs.push(await timed(() => pipeline(fs.createReadStream(csv), db.query(copyFrom(`COPY bench_raw_inventory (${COLUMNS}) FROM STDIN (FORMAT csv)`)))));
      const after = backendCpuSeconds(backend);
      const c = process.cpuUsage(client);
      copyCpu.push((before === undefined || after === undefined ? NaN : after - before) + (c.user + c.system) / 1e6);
    }
    const copyRate = rows / (Math.min(...copyMs) / 1000);
    // The kindest baseline too: the same rows sorted by key, so every index grows at its right edge.
    const sorted = path.join(dir, 'sorted.csv');
    await pipeline(db.query(copyTo(`COPY (SELECT ${COLUMNS} FROM inventory ORDER BY external_id COLLATE "C", variant_key COLLATE "C") TO STDOUT (FORMAT csv)`)), fs.createWriteStream(sorted));
    await db.query('TRUNCATE bench_raw_inventory');
    await db.query('CHECKPOINT');
    const sortedMs = await timed(() => pipeline(fs.createReadStream(sorted), db.query(copyFrom(`COPY bench_raw_inventory (${COLUMNS}) FROM STDIN (FORMAT csv)`))));
    const sortedRate = rows / (sortedMs / 1000);

    // Row by row, as a hand-written import would do it: a sample, extrapolated.
    const sampleSize = quick ? 2_000 : 20_000;
    const sample = (await db.query(`SELECT ${COLUMNS} FROM inventory ORDER BY md5(external_id || variant_key) LIMIT $1`, [sampleSize])).rows;
    await db.query('CREATE TABLE bench_rowbyrow (LIKE inventory INCLUDING ALL)');
    const insertRow = (r: Record<string, unknown>) => db.query(
      `INSERT INTO bench_rowbyrow (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (external_id, variant_key) DO UPDATE SET quantity = excluded.quantity, unit_price = excluded.unit_price`,
      [r.external_id, r.variant_key, r.title, r.category, r.unit_price, r.quantity, r.attributes, r.store_name, r.image_url, r.status]);
    const autocommitMs = await timed(async () => { for (const r of sample) await insertRow(r); });
    await db.query('TRUNCATE bench_rowbyrow');
    const oneTxMs = await timed(async () => {
      await db.query('BEGIN');
      for (const r of sample) await insertRow(r);
      await db.query('COMMIT');
    });
    const perRow = (ms: number) => sample.length / (ms / 1000);

    const jobRowsRate = rows / (job.ms / 1000);
    const jobItemsRate = job.result.items / (job.ms / 1000);
    return [row(`import (${items.toLocaleString('en-US')} items)`,
      { label: 'inventory-import job', rate: jobRowsRate, unit: 'rows/s', peakRssMb: job.maxRssMb },
      { label: 'raw COPY, parsed rows as CSV', rate: copyRate, unit: 'rows/s' },
      0.5,
      [
        `export: ${(stats.bytes / 2 ** 20).toFixed(0)} MB, ${stats.items} items in ${stats.orders} orders → ${rows} inventory rows `
          + `(${job.result.rejected} rejected, ${job.result.skippedCancelled} in cancelled orders, ${stats.landedItems - stats.distinctRows} re-bought items summed)`,
        `job: ${(job.ms / 1000).toFixed(1)} s = ${fmt(jobItemsRate)} items/s read = ${fmt(jobRowsRate)} rows/s landed; peak RSS ${job.maxRssMb.toFixed(0)} MB (target < ${RSS_TARGET_MB} MB: ${job.maxRssMb < RSS_TARGET_MB ? 'yes' : 'NO'})`,
        `raw COPY in the export's order: ${copyMs.map((ms) => (ms / 1000).toFixed(1)).join(' / ')} s (best of 2) = ${fmt(copyRate)} rows/s; ratio on items/s read: ${(jobItemsRate / copyRate).toFixed(2)}`,
        `raw COPY of the rows sorted by key (kindest to the indexes): ${(sortedMs / 1000).toFixed(1)} s = ${fmt(sortedRate)} rows/s; job ratio against it: ${(jobRowsRate / sortedRate).toFixed(2)}`,
        `row-by-row INSERT … ON CONFLICT (sample of ${sample.length}, extrapolated to ${rows} rows): `
          + `autocommit ${fmt(perRow(autocommitMs))} rows/s ≈ ${(rows / perRow(autocommitMs) / 60).toFixed(1)} min (${(perRow(autocommitMs) / copyRate).toFixed(3)} of COPY); `
          + `one transaction ${fmt(perRow(oneTxMs))} rows/s ≈ ${(rows / perRow(oneTxMs) / 60).toFixed(1)} min (${(perRow(oneTxMs) / copyRate).toFixed(3)} of COPY)`,
        `CPU time (what the work costs, whatever the machine's load): job ${job.cpuS.toFixed(1)} s in the worker + `
          + `${job.dbCpuS === null ? '?' : job.dbCpuS.toFixed(1)} s in PostgreSQL; raw COPY ${copyCpu.map((c) => c.toFixed(1)).join(' / ')} s in all`
          + (job.dbCpuS === null ? '' : `; the job's two processes overlap, so on an idle machine its time approaches the larger of the two`),
        `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, load average at the start ${loadAtStart}, at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      ])];
  } finally {
    await db.end().catch(() => {});
    const admin = new pg.Client(connectionConfig(withDatabase(base.databaseUrl)));
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)} WITH (FORCE)`).finally(() => admin.end());
    fs.rmSync(dir, { recursive: true, force: true });
    await deleteKeysWithPrefix(base.redisUrl, prefix);
  }
};

export default bench;
