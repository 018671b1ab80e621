import { createPool } from './shared/db.ts';
import { checks } from './jobs/integrity-repair/checks/index.ts';
const pool = createPool('postgres://127.0.0.1:5432/fleet_i6_scratch');
const c = await pool.connect();
await c.query('SET jit = off');
const only = process.argv[2];
const verbose = process.argv[3] === 'v';
for (const check of checks) {
  if (only && only !== 'all' && check.name !== only) continue;
  let t = performance.now();
  await c.query(check.detectSql);
  const d = Math.round(performance.now() - t);
  t = performance.now();
  const { rows: targets } = await c.query(check.targetsSql, [200000]);
  const tt = Math.round(performance.now() - t);
  let line = `${check.name}: detect ${d} ms, targets ${tt} ms (${targets.length})`;
  if (check.repairSql && targets.length) {
    await c.query('BEGIN');
    const { rows } = await c.query(`EXPLAIN (ANALYZE, FORMAT TEXT) ${check.repairSql}`, ['x', targets.slice(0, 1000).map((r) => r.id), check.name]);
    await c.query('ROLLBACK');
    line += `, repair 1000: ${rows.at(-1)['QUERY PLAN']}`;
    if (verbose) console.log(rows.map((r) => r['QUERY PLAN']).join('\n'));
  }
  console.log(line);
}
c.release(); await pool.end();
