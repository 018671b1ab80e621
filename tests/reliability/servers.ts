// Throwaway PostgreSQL and Redis servers that a fault test may stop and start at will,
// on spare loopback ports, with their data in a temp directory removed afterwards.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? `/usr/lib/postgresql/${process.env.PG_MAJOR ?? '15'}/bin`;

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Server { url: string; port: number; start(): Promise<void>; stop(): Promise<void>; destroy(): Promise<void> }

/** A PostgreSQL cluster made with initdb (run as the postgres OS user when we are root). */
export async function throwawayPostgres(): Promise<Server> {
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fleet-pg-'));
  const asRoot = process.getuid?.() === 0;
  const exec = (bin: string, args: string[]) => asRoot
    ? run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, bin), ...args])
    : run(path.join(PG_BIN, bin), args);
  if (asRoot) await run('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const ctl = (action: 'start' | 'stop') => exec('pg_ctl', action === 'start'
    ? ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']
    : ['-D', data, '-m', 'immediate', '-w', 'stop']);
  await ctl('start');
  let running = true;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/fleet`,
    start: async () => { await ctl('start'); running = true; },
    stop: async () => { await ctl('stop'); running = false; },
    destroy: async () => {
      if (running) await ctl('stop').catch(() => {});
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis server with append-only persistence, so a restart keeps its jobs. */
export async function throwawayRedis(): Promise<Server> {
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fleet-redis-'));
  const start = async () => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes',
      '--appendfsync', 'everysec', '--save', '', '--daemonize', 'yes', '--pidfile', path.join(dir, 'redis.pid')], { stdio: 'ignore' });
    await new Promise((r) => child.on('exit', r));
    for (let i = 0; i < 50; i++) {
      try { await run('redis-cli', ['-p', String(port), 'ping']); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    throw new Error(`redis on ${port} did not start`);
  };
  const stop = async () => {
    await run('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => {});
    for (let i = 0; i < 50; i++) {
      try { await run('redis-cli', ['-p', String(port), 'ping']); await new Promise((r) => setTimeout(r, 100)); } catch { return; }
    }
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, start, stop, destroy: async () => { await stop(); await fs.rm(dir, { recursive: true, force: true }); } };
}
