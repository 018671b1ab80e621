// Test plumbing: each test file gets its own database (cloned from the migrated template),
// its own queue prefix and its own buckets, against the real PostgreSQL, Redis and S3.
import crypto from 'node:crypto';
import pg from 'pg';
import { inject, beforeAll, afterAll } from 'vitest';
import { spawn as spawnChild } from 'node:child_process';
import { deleteKeysWithPrefix } from '../shared/redis.ts';
import { fromEnv, type Config } from '../shared/config.ts';
import { connectionConfig, withDatabase, quoteIdent } from '../shared/db.ts';
import { createServices, type Services } from '../shared/services.ts';
import { createLogger } from '../shared/logger.ts';
import { startHost, type Host } from '../shared/host.ts';
import type { AnyJob } from '../shared/job.ts';
import { allJobs } from '../jobs/index.ts';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function randomId(bytes = 4): string {
  return crypto.randomBytes(bytes).toString('hex');
}

/** Creates a database cloned from the migrated template; returns its URL and a drop(). */
export async function createTestDatabase(label = 'fleet_t'): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `${label}_${randomId()}`;
  const admin = new pg.Client(connectionConfig(withDatabase(adminUrl)));
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(inject('templateDatabase'))}`);
        break;
      } catch (err) {
        // 55006: the template is briefly busy (another run cloning it); try again.
        if ((err as { code?: string }).code !== '55006' || attempt > 20) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: async () => {
      const c = new pg.Client(connectionConfig(withDatabase(adminUrl)));
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A config for tests: real services, a unique queue prefix and buckets, silent logs. */
export function testEnv(databaseUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  const id = randomId();
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: `t${id}`,
    S3_ENDPOINT: inject('s3Endpoint'),
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    BACKUP_BUCKET: `b${id}-backups`,
    IMAGE_BUCKET: `b${id}-images`,
    IMPORT_BUCKET: `b${id}-imports`,
    IMAGE_ALLOW_PRIVATE_NETWORKS: 'true',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...overrides,
  };
}

/** Deletes every Redis key under a queue prefix. */
export function deletePrefix(prefix: string): Promise<void> {
  return deleteKeysWithPrefix(REDIS_URL, prefix);
}

/** Runs the `fleet` CLI (bin/fleet.js) as a user would; resolves with its exit code and output. */
export function fleetCli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnChild(process.execPath, ['bin/fleet.js', ...args], { env: { ...process.env, ...env } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface TestFleet {
  config: Config;
  env: Record<string, string>;
  services: Services;
  db: Services['db'];
  /** Starts workers for the given jobs (default: all); the test must close it (host.close()). */
  startWorkers(jobs?: readonly AnyJob[]): Promise<Host>;
}

/**
 * Per test file: a fresh database, queue prefix and buckets, and the services on them.
 * Closed and dropped after the file. Workers are started per test with startWorkers().
 */
export function useTestFleet(overrides: Record<string, string> = {}): TestFleet {
  const fleet = {} as TestFleet;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    fleet.env = testEnv(db.url, overrides);
    fleet.config = fromEnv(fleet.env);
    fleet.services = await createServices(fleet.config, allJobs, { log: createLogger('silent') });
    fleet.db = fleet.services.db;
    fleet.startWorkers = (jobs = allJobs) => startHost(fleet.services, jobs);
  });
  afterAll(async () => {
    await fleet.services?.close();
    if (fleet.config) await deletePrefix(fleet.config.queuePrefix);
    await drop?.();
  });
  return fleet;
}

/** Polls until fn returns a truthy value or the time runs out. */
export async function waitFor<T>(fn: () => Promise<T> | T, { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Enqueues a job and waits for it to finish; resolves with its final state, result and
 * failure reason (it does not throw on failure, so tests can assert on either).
 */
export async function runJob(fleet: TestFleet, name: string, payload: unknown, { timeoutMs = 60_000 } = {}): Promise<{
  id: string; state: string; result: unknown; failedReason?: string; attemptsMade: number;
}> {
  const id = await fleet.services.producer.enqueue(name, payload, { enqueuedBy: 'test' });
  const queue = fleet.services.producer.queue(name);
  await waitFor(async () => {
    const j = await queue.getJob(id);
    const state = j ? await j.getState() : 'missing';
    return state === 'completed' || state === 'failed';
  }, { timeoutMs, intervalMs: 25, what: `${name} job ${id} to finish` });
  // Read the job again now that it is final: a copy read before its state changed lacks the outcome.
  const job = (await queue.getJob(id))!;
  return { id, state: await job.getState(), result: job.returnvalue, failedReason: job.failedReason, attemptsMade: job.attemptsMade };
}

/** A TCP port nothing listens on right now, for a process under test. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as import('node:net').AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

export interface WorkerProcess {
  child: import('node:child_process').ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts a real worker process (`workers/<entry>.ts`) with the given environment, e.g. to
 * SIGKILL it mid-job. Resolves once its HTTP server answers /healthz (it is ready).
 */
export async function spawnWorker(entry: string, env: Record<string, string>, { readyTimeoutMs = 30_000, logLevel = 'info' } = {}): Promise<WorkerProcess> {
  const { spawn } = await import('node:child_process');
  const port = await freePort();
  // entry: a queue name (workers/<entry>.ts) or a path to an entry file.
  const file = entry.includes('/') ? entry : `workers/${entry}.ts`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--openssl-legacy-provider', file], {
    // Logs on (the test env is silent) so a test can read what the process said.
    env: { ...process.env, MALLOC_ARENA_MAX: '2', ...env, LOG_LEVEL: logLevel, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const proc: WorkerProcess = { child, output: () => out, exited, kill: (signal = 'SIGTERM') => { child.kill(signal); } };
  let dead = false;
  void exited.then(() => { dead = true; });
  await waitFor(async () => {
    if (dead) throw new Error(`worker ${entry} exited before it was ready:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return res.ok;
    } catch {
      return false;
    }
  }, { timeoutMs: readyTimeoutMs, intervalMs: 100, what: `worker ${entry} to be ready` });
  return proc;
}
