import pg from 'pg';
import { connectionConfig } from '../../shared/db.ts';
import { PermanentJobError } from '../../shared/errors.ts';
import type { Manifest } from './manifest.ts';
import { countRows, listTables, tableKey } from './tables.ts';

export class RestoreRefusedError extends PermanentJobError {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...connectionConfig(url), connectionTimeoutMillis: 10_000, application_name: 'stockroom-fleet:backup' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** User relations (tables, views, sequences…) outside the system schemas, extension members excluded. */
async function userRelations(c: pg.Client): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`);
  return rows[0]!.n;
}

/**
 * Refuses to restore over existing data. A schema or full dump needs an empty database
 * (or --clean, which drops and recreates what the dump contains). A data-only dump needs
 * the opposite: its tables must exist, and be empty.
 */
export async function checkTarget(url: string, manifest: Manifest, clean: boolean): Promise<{ exists: boolean }> {
  try {
    await checkExisting(url, manifest, clean);
    return { exists: true };
  } catch (err) {
    // 3D000 invalid_catalog_name: no such database, which is as empty as it gets.
    if ((err as { code?: string }).code === '3D000' && manifest.kind !== 'data') return { exists: false };
    throw err;
  }
}

async function checkExisting(url: string, manifest: Manifest, clean: boolean): Promise<void> {
  await withClient(url, async (c) => {
    if (manifest.kind !== 'data') {
      const n = await userRelations(c);
      if (n > 0 && !clean) {
        throw new RestoreRefusedError(`target database "${c.database}" is not empty (${n} tables, views or sequences); restore into an empty database, or pass --clean to drop and recreate the objects in the backup`);
      }
      return;
    }
    const present = new Set((await listTables(c)).map(tableKey));
    const missing = Object.keys(manifest.tables).filter((t) => !present.has(t));
    if (missing.length) throw new RestoreRefusedError(`data-only backup: the target lacks ${missing.length} of its tables (${missing.slice(0, 5).join(', ')}); restore the schema first`);
    const tables = (await listTables(c)).filter((t) => tableKey(t) in manifest.tables);
    const counts = await countRows(c, tables);
    const filled = Object.entries(counts).filter(([, n]) => n > 0).map(([t]) => t);
    if (filled.length) throw new RestoreRefusedError(`data-only backup: target tables already hold rows (${filled.slice(0, 5).join(', ')}); empty them first`);
  });
}

export interface CountCheck {
  ok: boolean;
  tables: number;
  rows: number;
  mismatches: { table: string; expected: number | null; actual: number | null }[];
}

/**
 * Counts every table of the restored database and compares with the manifest. For a
 * whole-database backup a table the manifest does not know is a mismatch too.
 */
export async function compareCounts(url: string, manifest: Manifest): Promise<CountCheck> {
  return withClient(url, async (c) => {
    const all = await listTables(c);
    const relevant = manifest.tableFilter ? all.filter((t) => tableKey(t) in manifest.tables) : all;
    const actual = await countRows(c, relevant);
    const mismatches: CountCheck['mismatches'] = [];
    for (const [table, expected] of Object.entries(manifest.tables)) {
      const got = actual[table];
      if (got !== expected) mismatches.push({ table, expected, actual: got ?? null });
    }
    for (const [table, got] of Object.entries(actual)) {
      if (!(table in manifest.tables)) mismatches.push({ table, expected: null, actual: got });
    }
    return {
      ok: mismatches.length === 0,
      tables: Object.keys(manifest.tables).length,
      rows: Object.values(manifest.tables).reduce((a, b) => a + b, 0),
      mismatches,
    };
  });
}
