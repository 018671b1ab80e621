import path from 'node:path';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { connectionConfig } from '../../shared/db.ts';
import { maskUrlCredentials } from '../../shared/redact.ts';
import { PermanentJobError } from '../../shared/errors.ts';

/** pg_dump / pg_restore from PG_BIN_DIR, or from PATH. */
export function pgBinary(name: 'pg_dump' | 'pg_restore', binDir?: string): string {
  return binDir ? path.join(binDir, name) : name;
}

/**
 * How libpq tools reach a database: the URL without its password as --dbname (visible in
 * `ps`, so nothing secret), and the password in PGPASSWORD (process environment only).
 */
export function libpqTarget(url: string): { dbname: string; env: Record<string, string> } {
  const u = new URL(connectionConfig(url).connectionString!);
  const env: Record<string, string> = {};
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  u.password = '';
  const queryPassword = u.searchParams.get('password');
  if (queryPassword !== null) { env.PGPASSWORD = queryPassword; u.searchParams.delete('password'); }
  // node-postgres spellings libpq rejects: ssl=true and sslmode=no-verify.
  const ssl = u.searchParams.get('ssl');
  if (ssl !== null) {
    u.searchParams.delete('ssl');
    if (/^(1|true|on|yes)$/i.test(ssl) && !u.searchParams.has('sslmode')) u.searchParams.set('sslmode', 'require');
  }
  if (u.searchParams.get('sslmode') === 'no-verify') u.searchParams.set('sslmode', 'require');
  return { dbname: u.toString(), env };
}

/** Major version from "pg_dump (PostgreSQL) 15.20 (Debian …)" or "16beta1". */
export function majorOf(versionText: string): number {
  const m = /(\d+)(?:\.\d+|beta|rc|devel)/.exec(versionText) ?? /(\d+)/.exec(versionText);
  if (!m) throw new Error(`cannot read a version number in "${versionText}"`);
  return Number(m[1]);
}

export async function toolVersion(binary: string): Promise<string> {
  const { code, stdout, stderr } = await run(binary, ['--version']);
  if (code !== 0) throw new PermanentJobError(`${binary} --version failed (exit ${code}): ${stderr.trim()}`);
  return stdout.trim().replace(/^\S+ \(PostgreSQL\) /, '');
}

async function run(binary: string, args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { if (stdout.length < 64_000) stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 64_000) stderr += d.toString(); });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT'
        ? new PermanentJobError(`${binary} not found: install the PostgreSQL client tools (Debian: postgresql-client) or set PG_BIN_DIR`)
        : err);
    });
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr }));
  });
}

/** Keeps the last `limit` characters a process wrote to stderr, for error messages. */
export function stderrTail(child: ChildProcess, limit = 4_000): () => string {
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-limit);
  });
  return () => maskUrlCredentials(tail.trim());
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

/** Spawns a PostgreSQL tool; `exited` settles once, with the exit code or signal. */
export function spawnTool(binary: string, args: string[], env: Record<string, string>, stdio: SpawnOptions['stdio']): { child: ChildProcess; exited: Promise<Exit>; stderr: () => string } {
  const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio });
  const stderr = stderrTail(child);
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT'
      ? new PermanentJobError(`${binary} not found: install the PostgreSQL client tools (Debian: postgresql-client) or set PG_BIN_DIR`)
      : err));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  exited.catch(() => {});
  return { child, exited, stderr };
}

export function describeExit(tool: string, exit: Exit, stderr: string): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return `${tool} ${how}${stderr ? `: ${stderr.split('\n').slice(-5).join(' | ')}` : ''}`;
}
