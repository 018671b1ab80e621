import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';
import type { Logger } from './logger.ts';
import { connectionConfig } from './db.ts';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '..', 'migrations');

// Any constant works; it only has to be the same in every fleet process.
const MIGRATE_LOCK = 7_311_942_001;

export interface Migration { version: number; name: string; file: string; sql: string; checksum: string }

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  const seen = new Set<number>();
  const out: Migration[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, 4));
    if (seen.has(version)) throw new Error(`Two migrations share version ${version} (${file})`);
    seen.add(version);
    const sql = await fs.readFile(path.join(dir, file), 'utf8');
    out.push({ version, name: file.replace(/\.sql$/, ''), file, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

/**
 * Applies pending migrations, each in its own transaction that records the version first.
 * A session advisory lock serialises concurrent migrators: the second one waits, then finds
 * nothing left to do. Returns the names applied.
 */
export async function migrate(databaseUrl: string, log?: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await loadMigrations(dir);
  const client = new pg.Client({ ...connectionConfig(databaseUrl), application_name: 'stockroom-fleet:migrate' });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number; checksum: string; name: string }>('SELECT version, name, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) log?.warn({ migration: m.name }, 'applied migration was edited afterwards; write a new migration instead');
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query(m.sql);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`Migration ${m.file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.name);
      log?.info({ migration: m.name }, 'migration applied');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => {});
    await client.end().catch(() => {});
  }
  return applied;
}
