import os from 'node:os';
import pg from 'pg';
import { maskUrlCredentials } from './redact.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// numeric and bigint arrive as strings by default; keep numeric exact (money) but make
// bigint counts plain numbers, which every count we read fits in.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * Connection settings from a URL. A URL without a user name means the OS user, as psql
 * does (node-pg alone reads $USER, which is unset under some service managers).
 */
export function connectionConfig(url: string): pg.ClientConfig {
  const u = new URL(url);
  // Set on the URL itself: node-pg lets every connection-string field, even an absent one, override `user`.
  if (!u.username) u.username = encodeURIComponent(process.env.PGUSER ?? os.userInfo().username);
  return { connectionString: u.toString() };
}

export function createPool(url: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    ...connectionConfig(url),
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'stockroom-fleet',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

/** Runs fn inside BEGIN/COMMIT on one client; rolls back on any error and rethrows it. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Quotes an identifier that has already been checked against the catalog. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL names no database: ${maskUrlCredentials(url)}`);
  return name;
}

/** The same server, another database (default: the maintenance database "postgres"). */
export function withDatabase(url: string, database = 'postgres'): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Creates the database named in url when it does not exist yet; safe when raced. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = new pg.Client({ ...connectionConfig(withDatabase(url)), connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
      return true;
    } catch (err) {
      // 42P04 duplicate_database / 23505: another process created it between our check and create.
      const code = (err as { code?: string }).code;
      if (code === '42P04' || code === '23505') return false;
      throw err;
    }
  } finally {
    await admin.end().catch(() => {});
  }
}
