import { createPool } from './shared/db.ts';
import { applyLifecycle, fixStatusDrift, pendingAlerts, markNotified } from './jobs/stock-alerts/queries.ts';
const pool = createPool('postgres://127.0.0.1:5432/fleet_i6_scratch');
const c = await pool.connect();
await c.query('SET jit = off');
for (let i = 0; i < 3; i++) {
  await c.query('TRUNCATE stock_alerts');
  const out: string[] = [];
  let t = performance.now();
  const lap = (n: string) => { const now = performance.now(); out.push(`${n} ${Math.round(now - t)}`); t = now; };
  await fixStatusDrift(c); lap('drift');
  
  await c.query('BEGIN'); await applyLifecycle(c); await c.query('COMMIT'); lap('lifecycle');
  const p = await pendingAlerts(c, 50); lap("pending");
  await markNotified(c, p.maxId!); lap("mark");
  console.log(out.join(' | '));
}
c.release(); await pool.end();
