import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll } from 'vitest';
import { parse, stringify } from 'yaml';
import { useTestFleet } from '../helpers.ts';
import { registry } from '../../shared/metrics.ts';
import { startDefaultMetrics } from '../../shared/metrics.ts';
import { allJobs } from '../../jobs/index.ts';
import { schedulesOf } from '../../workers/scheduler.ts';
import { startMonitor } from '../../workers/monitor/monitor.ts';
import { ROOT, runTool } from './tools.ts';
import { expandGrafana, metricNames } from './promql.ts';

const fleet = useTestFleet();

interface Target { expr?: string; refId: string; datasource?: { type?: string; uid?: string } }
interface Panel {
  id: number; type: string; title: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; panels?: Panel[];
  fieldConfig?: { defaults?: { thresholds?: { steps: { color: string; value: number | null }[] }; custom?: { thresholdsStyle?: { mode: string } } } };
}
interface Dashboard { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string; query: unknown; datasource?: { uid?: string } }[] } }

const DASHBOARDS = path.join(ROOT, 'dashboards/grafana/dashboards');
const dashboards = Object.fromEntries(fs.readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(fs.readFileSync(path.join(DASHBOARDS, f), 'utf8')) as Dashboard]));
const panelsOf = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const ruleExprs = (parse(fs.readFileSync(path.join(ROOT, 'dashboards/prometheus/rules.yml'), 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] })
  .groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr })));
const dashboardExprs = Object.entries(dashboards).flatMap(([file, d]) => [
  ...panelsOf(d).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${file} panel "${p.title}"`, expr: t.expr ?? '' }))),
  ...d.templating.list.filter((v) => v.type === 'query').map((v) => ({
    where: `${file} variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : (v.query as { query: string }).query,
  })),
]);

/** What this fleet exports: the live registry of a process running the host and the monitor. */
let exported: Set<string>;
beforeAll(async () => {
  startDefaultMetrics();
  const host = await fleet.startWorkers(allJobs);
  const monitor = startMonitor(fleet.services, { schedules: schedulesOf(allJobs), intervalMs: 3_600_000 });
  try {
    expect(await monitor.refresh()).toBe(true);
  } finally {
    await monitor.stop();
    await host.close();
  }
  exported = new Set(['up']);
  for (const m of await registry.getMetricsAsJSON()) {
    exported.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m.name + s);
    if (String(m.type) === 'summary') for (const s of ['_sum', '_count']) exported.add(m.name + s);
  }
});

describe('dashboards and rules reference only exported metrics', () => {
  it('finds metric names in PromQL and Grafana queries', () => {
    expect(metricNames('sum by (queue) (rate(fleet_jobs_total{status="failed", queue=~"$queue"}[$__rate_interval])) > 1e9')).toEqual(['fleet_jobs_total']);
    expect(metricNames('(time() - (max(a_b) or vector(0)) > 25 * 3600) <= 26 * 3600 unless on (job) c offset 5m')).toEqual(['a_b', 'c']);
    expect(metricNames('histogram_quantile(0.95, sum by (queue, le) (rate(x_bucket[5m])))')).toEqual(['x_bucket']);
    expect(metricNames('label_values(fleet_jobs_total, queue)')).toEqual(['fleet_jobs_total']);
  });

  it('every metric a panel, variable or rule queries is exported by the fleet', () => {
    const all = [...dashboardExprs, ...ruleExprs];
    expect(dashboardExprs.length).toBeGreaterThan(30);
    const dangling = all.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`));
    expect(dangling).toEqual([]);
    // And the monitor's interface is covered by them.
    const used = new Set(all.flatMap(({ expr }) => metricNames(expr)));
    for (const name of ['fleet_db_size_bytes', 'fleet_db_connections', 'fleet_db_longest_query_seconds', 'fleet_db_rollbacks_total',
      'fleet_inventory_low_stock_items', 'fleet_inventory_out_of_stock_items', 'fleet_admin_sessions_active', 'fleet_admin_failed_logins_total',
      'fleet_admin_users', 'fleet_images_orphaned', 'bullmq_job_count', 'fleet_job_last_success_timestamp_seconds',
      'fleet_monitor_last_success_timestamp_seconds', 'fleet_monitor_errors_total', 'fleet_jobs_total', 'fleet_job_duration_seconds_bucket']) {
      expect(used.has(name), `${name} is shown or alerted on`).toBe(true);
    }
  });

  it('every panel query is valid PromQL (checked by promtool as recording rules)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-dash-'));
    try {
      const file = path.join(dir, 'panels.yml');
      const exprs = dashboardExprs.filter((e) => !/^\s*label_values\(/.test(e.expr));
      fs.writeFileSync(file, stringify({ groups: [{ name: 'panels', rules: exprs.map((e, i) => ({ record: `dashboard:query:${i}`, expr: expandGrafana(e.expr) })) }] }));
      const res = await runTool('promtool', ['check', 'rules', file]);
      expect(res.status, res.output).toBe(0);
      expect(res.output).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Grafana dashboards', () => {
  it('have fixed uids, a datasource variable, and every panel on it', () => {
    expect(Object.keys(dashboards).sort()).toEqual(['database-health.json', 'fleet-overview.json']);
    for (const [file, d] of Object.entries(dashboards)) {
      expect(d.uid, file).toBe(file.replace(/\.json$/, ''));
      const ds = d.templating.list.find((v) => v.name === 'datasource');
      expect(ds, file).toMatchObject({ type: 'datasource', query: 'prometheus' });
      const ids = d.panels.flatMap((p) => [p.id, ...(p.panels ?? []).map((c) => c.id)]);
      expect(new Set(ids).size, `${file} panel ids are unique`).toBe(ids.length);
      for (const p of panelsOf(d)) {
        expect(p.datasource?.uid, `${file} "${p.title}"`).toBe('${datasource}');
        expect(p.targets?.length, `${file} "${p.title}" has queries`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.datasource?.uid, `${file} "${p.title}" ${t.refId}`).toBe('${datasource}');
      }
      for (const v of d.templating.list.filter((x) => x.type === 'query')) expect(v.datasource?.uid).toBe('${datasource}');
    }
  });

  it('draw the runbook thresholds on every database-health panel', () => {
    const d = dashboards['database-health.json']!;
    for (const p of panelsOf(d).filter((x) => !x.title.startsWith('Monitor errors'))) {
      const steps = p.fieldConfig?.defaults?.thresholds?.steps ?? [];
      expect(steps.length, `"${p.title}" has a warning or critical step`).toBeGreaterThanOrEqual(2);
      if (p.type === 'timeseries') expect(p.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode, `"${p.title}" draws them`).toMatch(/line/);
    }
    const stepsOf = (title: string) => panelsOf(d).find((p) => p.title === title && p.type === 'timeseries')!.fieldConfig!.defaults!.thresholds!.steps.map((s) => s.value);
    expect(stepsOf('Database size')).toEqual([null, 8 * 2 ** 30, 10 * 2 ** 30]);
    expect(stepsOf('Longest running query')).toEqual([null, 5, 10]);
    expect(stepsOf('Failed queries per hour (rollbacks)')).toEqual([null, 5, 20]);
    expect(stepsOf('Failed admin logins per hour')).toEqual([null, 10, 25]);
    // Integer counts: "> 60" starts at 61.
    expect(stepsOf('Connections')).toEqual([null, 61, 81]);
    expect(stepsOf('Items to reorder')).toEqual([null, 6, 11]);
    expect(stepsOf('Active admin sessions')).toEqual([null, 6, 11]);
  });

  it('are provisioned from the paths docker-compose mounts', () => {
    const ds = parse(fs.readFileSync(path.join(ROOT, 'dashboards/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { type: string; url: string }[] };
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]);
    const providers = parse(fs.readFileSync(path.join(ROOT, 'dashboards/grafana/provisioning/dashboards/stockroom.yml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
    const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain('./dashboards/grafana/dashboards:/var/lib/grafana/dashboards');
    expect(compose).toContain('./dashboards/grafana/provisioning:/etc/grafana/provisioning');
  });
});
