import type pg from 'pg';
import { quoteIdent } from '../../shared/db.ts';

export interface TableRef { schema: string; name: string }

/** "schema.table", the key of a table in manifests and results. */
export function tableKey(t: TableRef): string {
  return `${t.schema}.${t.name}`;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Ordinary tables (partitions included, partitioned parents not, so rows are not counted
 * twice) that pg_dump dumps: every schema but the system ones, without extension members.
 */
export async function listTables(db: Queryable): Promise<TableRef[]> {
  const { rows } = await db.query<TableRef>(
    `SELECT n.nspname AS schema, c.relname AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY 1, 2`);
  return rows;
}

/**
 * Resolves table names from a payload ("name" means the first schema of the search path
 * that has it, "schema.name" is exact) against the catalog; returns the unknown ones apart.
 */
export async function resolveTables(db: Queryable, names: string[]): Promise<{ found: TableRef[]; unknown: string[] }> {
  const all = await listTables(db);
  const { rows } = await db.query<{ schemas: string[] }>('SELECT current_schemas(false)::text[] AS schemas');
  const searchPath = rows[0]!.schemas;
  const found: TableRef[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const dot = name.indexOf('.');
    const hit = dot > 0
      ? all.find((t) => t.schema === name.slice(0, dot) && t.name === name.slice(dot + 1))
      : searchPath.map((s) => all.find((t) => t.schema === s && t.name === name)).find(Boolean);
    if (hit) { if (!found.includes(hit)) found.push(hit); } else unknown.push(name);
  }
  return { found, unknown };
}

/** Exact row counts in one statement (one snapshot); names come from the catalog. */
export async function countRows(db: Queryable, tables: TableRef[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  // Batches keep the statement a sane size for schemas with thousands of tables.
  for (let i = 0; i < tables.length; i += 200) {
    const batch = tables.slice(i, i + 200);
    const sql = batch.map((t, j) => `SELECT ${j} AS i, count(*)::bigint AS n FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`).join(' UNION ALL ');
    const { rows } = await db.query<{ i: number; n: number }>(sql);
    for (const r of rows) out[tableKey(batch[r.i]!)] = Number(r.n);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** pg_dump --table pattern matching exactly one table: inside double quotes nothing is a wildcard. */
export function dumpPattern(t: TableRef): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}
