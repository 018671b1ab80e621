import { describe, it, expect } from 'vitest';
import { useTestFleet, spawnWorker, runJob, waitFor, freePort } from '../helpers.ts';

const fleet = useTestFleet();

describe('worker process', () => {
  it('runs a queue in its own process and exits 0 on SIGTERM', async () => {
    const worker = await spawnWorker('mv-refresh', fleet.env);
    try {
      const run = await runJob(fleet, 'mv-refresh', { views: ['low_stock_report'] });
      expect(run.state).toBe('completed');
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('shutdown complete');
  });
});

describe('npm start', () => {
  it('exits 0 on Ctrl-C: SIGINT to the whole process group, which npm also forwards to the fleet', async () => {
    const { spawn } = await import('node:child_process');
    const port = await freePort();
    // Its own process group, as a terminal gives a foreground command.
    const child = spawn('npm', ['start'], {
      env: { ...process.env, ...fleet.env, HTTP_PORT: String(port), LOG_LEVEL: 'info' },
      detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)), { timeoutMs: 60_000, what: 'npm start to answer /healthz' });
    } finally {
      process.kill(-child.pid!, 'SIGINT');
    }
    expect(await exited, out).toBe(0);
    expect(out).toContain('shutdown complete');
    expect(out).not.toContain('second signal');
  });
});
