// Plumbing for the images benchmark: a static image server, child processes, /proc readings.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { spawn } from 'node:child_process';

export interface FileServer { url(i: number): string; close(): Promise<void> }

/** Serves files[i] at /<i>.jpg from 127.0.0.1, streamed from disk per request. */
export function serveFiles(files: string[]): Promise<FileServer> {
  const server = http.createServer(async (req, res) => {
    const file = files[Number(/^\/(\d+)\.jpg$/.exec(req.url ?? '')?.[1] ?? -1)];
    if (!file) { res.writeHead(404).end(); return; }
    const { size } = await fs.stat(file);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': size });
    // Streamed (as a CDN would): no per-request copy of the file on this process's heap.
    createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as net.AddressInfo).port;
    ok({ url: (i) => `http://127.0.0.1:${port}/${i}.jpg`, close: () => new Promise((d) => { server.closeAllConnections(); server.close(() => d()); }) });
  }));
}

export function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => ok(p)); });
  });
}

/** Runs a TypeScript entry in a child process; resolves with its stdout. */
export function runTs(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--openssl-legacy-provider', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`${args[0]} exited with ${code}`))));
  });
}

/** Peak resident set (VmHWM) of a process, in MB. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU seconds (user + system) a process has used so far; Linux clock ticks are 1/100 s. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/** CPU seconds of one thread (the main thread when tid = pid). */
export async function threadCpuSeconds(pid: number, tid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}
