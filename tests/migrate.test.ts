import { describe, it, expect, afterAll, inject } from 'vitest';
import pg from 'pg';
import { connectionConfig, withDatabase, ensureDatabase, quoteIdent } from '../shared/db.ts';
import { migrate, loadMigrations } from '../shared/migrate.ts';
import { randomId, fleetCli } from './helpers.ts';

const created: string[] = [];
afterAll(async () => {
  const admin = new pg.Client(connectionConfig(withDatabase(inject('adminDatabaseUrl'))));
  await admin.connect();
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  await admin.end();
});


describe('migrations', () => {
  it('three processes migrating a new database at once apply each migration exactly once', async () => {
    const name = `fleet_mig_${randomId()}`;
    created.push(name);
    const url = withDatabase(inject('adminDatabaseUrl'), name);
    const runs = await Promise.all([1, 2, 3].map(() => fleetCli(['migrate'], { DATABASE_URL: url })));
    for (const r of runs) expect(r, r.stderr).toMatchObject({ code: 0 });
    const files = await loadMigrations();
    const applied = runs.map((r) => r.stdout.trim());
    // Exactly one process applied everything; the others waited on the lock and found nothing to do.
    expect(applied.filter((a) => a.startsWith('applied:'))).toHaveLength(1);
    expect(applied.filter((a) => a === 'up to date')).toHaveLength(2);
    const client = new pg.Client(connectionConfig(url));
    await client.connect();
    try {
      const { rows } = await client.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.version));
      const views = await client.query(`SELECT matviewname FROM pg_matviews ORDER BY 1`);
      expect(views.rows.map((r) => r.matviewname)).toEqual(['daily_sales_summary', 'inventory_category_summary', 'low_stock_report']);
    } finally {
      await client.end();
    }
  });

  it('is idempotent: a second run applies nothing', async () => {
    const name = `fleet_mig_${randomId()}`;
    created.push(name);
    const url = withDatabase(inject('adminDatabaseUrl'), name);
    expect(await ensureDatabase(url)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);
    expect((await migrate(url)).length).toBeGreaterThan(0);
    expect(await migrate(url)).toEqual([]);
  });

  it('a failing migration rolls back entirely and is not recorded', async () => {
    const name = `fleet_mig_${randomId()}`;
    created.push(name);
    const url = withDatabase(inject('adminDatabaseUrl'), name);
    await ensureDatabase(url);
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mig-'));
    await fs.writeFile(path.join(dir, '0001_ok.sql'), 'CREATE TABLE a (id int);');
    await fs.writeFile(path.join(dir, '0002_bad.sql'), 'CREATE TABLE b (id int); SELECT * FROM no_such_table;');
    await expect(migrate(url, undefined, dir)).rejects.toThrow(/0002_bad\.sql failed: relation "no_such_table" does not exist/);
    const client = new pg.Client(connectionConfig(url));
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT version FROM schema_migrations ORDER BY 1`);
      expect(rows.map((r) => r.version)).toEqual([1]);
      const b = await client.query(`SELECT to_regclass('b') AS b, to_regclass('a') AS a`);
      expect(b.rows[0]).toEqual({ a: 'a', b: null });
    } finally {
      await client.end();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps available_quantity and status following the rule', async () => {
    const name = `fleet_mig_${randomId()}`;
    created.push(name);
    const url = withDatabase(inject('adminDatabaseUrl'), name);
    await ensureDatabase(url);
    await migrate(url);
    const client = new pg.Client(connectionConfig(url));
    await client.connect();
    try {
      const { rows } = await client.query(
        `INSERT INTO inventory (external_id, title, quantity, reserved_quantity, low_stock_threshold)
         VALUES ('a','A',10,2,3), ('b','B',5,2,3), ('c','C',2,2,3), ('d','D',1,3,3)
         RETURNING external_id, available_quantity, status`);
      expect(rows).toEqual([
        { external_id: 'a', available_quantity: 8, status: 'in_stock' },
        { external_id: 'b', available_quantity: 3, status: 'low_stock' },
        { external_id: 'c', available_quantity: 0, status: 'out_of_stock' },
        { external_id: 'd', available_quantity: -2, status: 'out_of_stock' },
      ]);
      const up = await client.query(`UPDATE inventory SET quantity = 20 WHERE external_id = 'c' RETURNING status`);
      expect(up.rows[0].status).toBe('in_stock');
    } finally {
      await client.end();
    }
  });
});
