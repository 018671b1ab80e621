import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';
import { allJobs } from '../../jobs/index.ts';
import { ROOT, runTool } from './tools.ts';

interface Service { image?: string; command?: string[]; volumes?: (string | { source: string; target: string })[]; ports?: unknown[] }

/** Every queue of the fleet once all its jobs are in (compose does not check entry files). */
const QUEUES = ['inventory-import', 'kicksdb-sync', 'image-migration', 'image-orphans', 'stock-alerts', 'integrity-repair',
  'backup-export', 'backup-prune', 'backup-verify', 'mv-refresh'];

async function validated(): Promise<Record<string, Service>> {
  const res = await runTool('docker-compose', ['-f', 'docker-compose.yml', 'config']);
  expect(res.status, res.output).toBe(0);
  return (parse(res.stdout) as { services: Record<string, Service> }).services;
}

const mounts = (s: Service) => (s.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));

describe('docker-compose.yml', () => {
  it('is valid (docker-compose config) and runs every queue as its own service beside one admin', async () => {
    const services = await validated();
    for (const queue of new Set([...QUEUES, ...allJobs.map((j) => j.name)])) {
      expect(services[`worker-${queue}`]?.command, queue).toEqual(['node', '--import', 'tsx', `workers/${queue}.ts`]);
    }
    expect(services.admin?.command).toEqual(['node', '--import', 'tsx', 'workers/admin.ts']);
    expect(fs.existsSync(path.join(ROOT, 'workers/admin.ts'))).toBe(true);
  });

  it('has Prometheus scraping every fleet process with the rules loaded, and Grafana provisioned', async () => {
    const services = await validated();
    expect(mounts(services.prometheus!).some((m) => m.endsWith('/dashboards/prometheus:/etc/prometheus:ro'))).toBe(true);
    const grafana = mounts(services.grafana!);
    expect(grafana.some((m) => m.endsWith('/dashboards/grafana/provisioning:/etc/grafana/provisioning:ro'))).toBe(true);
    expect(grafana.some((m) => m.endsWith('/dashboards/grafana/dashboards:/var/lib/grafana/dashboards:ro'))).toBe(true);

    const prom = parse(fs.readFileSync(path.join(ROOT, 'dashboards/prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(prom.rule_files).toEqual(['rules.yml']);
    const targets = new Map(prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets.map((t) => [t, c.job_name] as const))));
    const fleetServices = Object.entries(services).filter(([name, s]) => s.image?.startsWith('stockroom-fleet') && name !== 'migrate').map(([name]) => name);
    expect(fleetServices.length).toBe(QUEUES.length + 1);
    for (const name of fleetServices) {
      // FleetTargetDown watches up{job=~"fleet-.*"}.
      expect(targets.get(`${name}:9464`), `${name} is scraped`).toMatch(/^fleet-/);
    }
  });
});
