import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';
import { ROOT, runTool } from './tools.ts';

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleTest { name: string; alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: { exp_labels?: Record<string, string> }[] }[] }

const RULES = 'dashboards/prometheus/rules.yml';
const rules: Rule[] = (parse(fs.readFileSync(path.join(ROOT, RULES), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const unitTests: RuleTest[] = (parse(fs.readFileSync(path.join(ROOT, 'dashboards/prometheus/rules.test.yml'), 'utf8')) as { tests: RuleTest[] }).tests;
const runbook = fs.readFileSync(path.join(ROOT, 'docs/runbook.md'), 'utf8');

/** The alert names and the severities each must have (runbook rows with "—" have one). */
const EXPECTED: Record<string, ('warning' | 'critical')[]> = {
  DatabaseSizeHigh: ['warning', 'critical'],
  DatabaseConnectionsHigh: ['warning', 'critical'],
  LongRunningQuery: ['warning', 'critical'],
  LowStockItems: ['warning', 'critical'],
  FailedQueriesHigh: ['warning', 'critical'],
  AdminSessionsHigh: ['warning', 'critical'],
  FailedAdminLoginsHigh: ['warning', 'critical'],
  OrphanedImages: ['warning'],
  NoAdminUsers: ['critical'],
  QueueBacklogHigh: ['warning', 'critical'],
  JobsFailing: ['warning', 'critical'],
  ScheduledJobMissed: ['warning', 'critical'],
  BackupTooOld: ['warning', 'critical'],
  BackupNotVerified: ['warning', 'critical'],
  FleetTargetDown: ['warning', 'critical'],
  FleetMonitorStale: ['warning', 'critical'],
};

function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) {
    total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[unit as 'ms' | 's' | 'm' | 'h' | 'd' | 'w'];
  }
  return total;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
}

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', async () => {
    const res = await runTool('promtool', ['check', 'rules', RULES]);
    expect(res.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(res.status, res.output).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', async () => {
    const res = await runTool('promtool', ['test', 'rules', 'dashboards/prometheus/rules.test.yml']);
    expect(res.status, res.output).toBe(0);
    expect(res.output).toMatch(/SUCCESS/);
  }, 120_000); // about 10 s of promtool CPU; more on a busy CI machine

  it('load from the compose stack\'s Prometheus config (promtool check config)', async () => {
    const res = await runTool('promtool', ['check', 'config', 'dashboards/prometheus/prometheus.yml']);
    expect(res.status, res.output).toBe(0);
    expect(res.output).toMatch(/1 rule files found/);
  });

  it('name every alert of the issue, each with its severities, for <= 10m and complete annotations', () => {
    const alerts = rules.filter((r) => r.alert);
    expect([...new Set(alerts.map((r) => r.alert))].sort()).toEqual(Object.keys(EXPECTED).sort());
    const anchorSet = anchors(runbook);
    for (const [name, severities] of Object.entries(EXPECTED)) {
      const own = alerts.filter((r) => r.alert === name);
      expect(own.map((r) => r.labels?.severity).sort(), name).toEqual([...severities].sort());
      for (const r of own) {
        expect(seconds(r.for ?? '0s'), `${name} for`).toBeLessThanOrEqual(600);
        expect(r.annotations?.summary, `${name} summary`).toBeTruthy();
        expect(r.annotations?.description, `${name} description shows the value`).toMatch(/\$value/);
        expect(r.annotations?.runbook_url, `${name} runbook_url`).toBe(`docs/runbook.md#${name.toLowerCase()}`);
        expect(anchorSet.has(name.toLowerCase()), `docs/runbook.md has a section for ${name}`).toBe(true);
      }
    }
  });

  it('have a unit test for every alert that sees each severity and the all-clear', () => {
    for (const [name, severities] of Object.entries(EXPECTED)) {
      const checks = unitTests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === name);
      const seen = new Set(checks.map((c) => (c.exp_alerts.length === 0 ? 'none' : c.exp_alerts.map((a) => a.exp_labels?.severity).sort().join('+'))));
      // Every check lists the complete set of firing alerts of that name, so a check
      // expecting ["warning"] fails if critical fires too: "exactly one" is asserted.
      for (const c of checks) expect(c.exp_alerts.length, `${name} at ${c.eval_time}`).toBeLessThanOrEqual(1);
      expect([...seen].sort(), name).toEqual(['none', ...severities].sort());
    }
  });
});
