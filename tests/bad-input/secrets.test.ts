import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { useTestFleet, spawnWorker, runJob } from '../helpers.ts';

const fleet = useTestFleet();

const SECRETS = {
  db: 'pg-Secret-7f3a9',
  s3: 's3-Secret-Key-91bd',
  kicks: 'kicks-Api-Key-55e0',
  enc: 'ab'.repeat(32),
};

/** The test database URL with a password in it (trust auth ignores it; logs must not show it). */
function withPassword(url: string): string {
  const u = new URL(url);
  u.username = 'root';
  u.password = SECRETS.db;
  return u.toString();
}

function run(cmd: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, cmd, { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

function expectNoSecret(text: string) {
  for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
}

describe('secrets never reach logs or error messages', () => {
  it('a worker process running and failing jobs logs no secret', async () => {
    const env = {
      ...fleet.env, DATABASE_URL: withPassword(fleet.env.DATABASE_URL!), S3_SECRET_ACCESS_KEY: SECRETS.s3,
      KICKSDB_API_KEY: SECRETS.kicks, BACKUP_ENCRYPTION_KEY: SECRETS.enc, LOG_LEVEL: 'trace',
    };
    const worker = await spawnWorker('mv-refresh', env, { logLevel: 'trace' });
    try {
      expect((await runJob(fleet, 'mv-refresh', {})).state).toBe('completed');
      expect((await runJob(fleet, 'mv-refresh', { views: ['nope'] })).state).toBe('failed');
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
    }
    expect(worker.output()).toContain('job completed');
    expectNoSecret(worker.output());
  });

  it('npm start that cannot reach its database fails to start, without the password', async () => {
    const r = await run(['--import', 'tsx', 'workers/all.ts'], {
      ...fleet.env, DATABASE_URL: `postgres://root:${SECRETS.db}@127.0.0.1:1/fleet`, S3_SECRET_ACCESS_KEY: SECRETS.s3, LOG_LEVEL: 'info',
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/fleet failed to start/);
    expectNoSecret(r.out);
  });

  it('the CLI masks credentials in connection errors', async () => {
    const r = await run(['bin/fleet.js', 'migrate'], { ...fleet.env, DATABASE_URL: `postgres://root:${SECRETS.db}@127.0.0.1:1/fleet` });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ECONNREFUSED/);
    expectNoSecret(r.out);
    const bad = await run(['bin/fleet.js', 'status'], { ...fleet.env, REDIS_URL: `redis://:${SECRETS.db}@127.0.0.1:1` });
    expect(bad.code).toBe(1);
    expectNoSecret(bad.out);
  });

  it('a config error names the variable, never the secret value', async () => {
    const r = await run(['bin/fleet.js', 'status'], { ...fleet.env, BACKUP_ENCRYPTION_KEY: SECRETS.kicks });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/BACKUP_ENCRYPTION_KEY must be 32 bytes/);
    expectNoSecret(r.out);
  });
});
