import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedS3 } from '../../shared/s3.ts';
import { connectionConfig, withDatabase, quoteIdent } from '../../shared/db.ts';
import { migrate, loadMigrations } from '../../shared/migrate.ts';
import crypto from 'node:crypto';

declare module 'vitest' {
  export interface ProvidedContext { s3Endpoint: string; templateDatabase: string; adminDatabaseUrl: string }
}

const BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/postgres';

/**
 * Once per run: a migrated template database (named by the migrations' checksum, so it is
 * rebuilt only when they change) that every test file clones, and one embedded S3 server.
 */
export default async function setup(project: TestProject) {
  const migrations = await loadMigrations();
  const hash = crypto.createHash('sha256').update(migrations.map((m) => m.checksum).join()).digest('hex').slice(0, 12);
  const template = `fleet_tpl_${hash}`;
  const admin = new pg.Client(connectionConfig(withDatabase(BASE_URL)));
  await admin.connect();
  try {
    // Serialise template builds across concurrent test runs on this machine.
    await admin.query('SELECT pg_advisory_lock(7311942002)');
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [template]);
    if (!rowCount) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)}`);
      await admin.query(`CREATE DATABASE ${quoteIdent(template)}`);
      await migrate(withDatabase(BASE_URL, template));
      await admin.query(`ALTER DATABASE ${quoteIdent(template)} WITH IS_TEMPLATE true`);
    }
    await admin.query('SELECT pg_advisory_unlock(7311942002)');
  } finally {
    await admin.end();
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fleet-s3-'));
  const s3 = await startEmbeddedS3(dir, 0);
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('templateDatabase', template);
  project.provide('adminDatabaseUrl', BASE_URL);
  return async () => {
    await s3.close();
    await fs.rm(dir, { recursive: true, force: true });
  };
}
