import { createPool } from './shared/db.ts';
import { checks } from './jobs/integrity-repair/checks/index.ts';
const pool = createPool('postgres://127.0.0.1:5432/fleet_i6_scratch');
const c = await pool.connect();
await c.query('SET jit = off');
const only = process.argv[2];
for (const check of checks) {
  if (only && check.name !== only) continue;
  let t = performance.now();
  await c.query(check.detectSql);
  console.log(check.name, 'detect', Math.round(performance.now() - t), 'ms');
  if (check.repairSql) {
    await c.query('BEGIN');
    const { rows } = await c.query(`EXPLAIN (ANALYZE, FORMAT TEXT) ${check.repairSql}`, ['x', 5000, check.name]);
    await c.query('ROLLBACK');
    console.log(rows.map((r) => r['QUERY PLAN']).join('\n'));
  }
}
c.release(); await pool.end();
