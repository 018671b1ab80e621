import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import { useTestFleet, runJob } from '../helpers.ts';
import backupExport from '../../jobs/backup/backup-export.ts';

// A pg_dump that reports another major version (as an older client package would).
const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-pgbin-'));
fs.writeFileSync(path.join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11 (Debian 14.11-1)"\n', { mode: 0o755 });
const fleet = useTestFleet({ PG_BIN_DIR: bin });
afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));

describe('pg_dump version check', () => {
  it('fails at once, naming both versions and the fix, and takes no backup', async () => {
    const host = await fleet.startWorkers([backupExport]);
    try {
      const run = await runJob(fleet, 'backup-export', {});
      expect(run.state).toBe('failed');
      expect(run.attemptsMade).toBe(1);
      expect(run.failedReason).toMatch(/^pg_dump 14\.11 \(Debian 14\.11-1\) does not match the server's major version 1[5-9] \(server 1[5-9]\.\d+.*\): install the PostgreSQL 1[5-9] client tools \(Debian: postgresql-client-1[5-9]\) and set PG_BIN_DIR/);
      fs.rmSync(path.join(bin, 'pg_dump'));
      const missing = await runJob(fleet, 'backup-export', {});
      expect(missing.failedReason).toMatch(/pg_dump not found: install the PostgreSQL client tools \(Debian: postgresql-client\) or set PG_BIN_DIR/);
      expect(missing.attemptsMade).toBe(1);
    } finally {
      await host.close();
    }
    expect((await fleet.db.query('SELECT count(*)::int AS n FROM backups')).rows[0].n).toBe(0);
  });
});
