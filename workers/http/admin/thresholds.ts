import { registry } from '../../../shared/metrics.ts';

// The runbook's thresholds (SPEC §9; seed 001 "Alert Thresholds", seed 002 "Monitoring"),
// evaluated against this process's own metrics registry for the /admin status page. The
// Prometheus rules (dashboards/prometheus) are what pages; this is the glance.

export type Level = 'ok' | 'warning' | 'critical' | 'nodata';

export interface RunbookRow {
  label: string;
  metric: string;
  /** 'gauge': the current value (summed over labels); 'per-hour': the counter's increase over the last hour. */
  kind: 'gauge' | 'per-hour';
  unit: 'count' | 'bytes' | 'seconds';
  /** Above this is a warning / critical. */
  warning?: number;
  critical?: number;
  /** At or below this is critical (e.g. no admin users left). */
  criticalAtMost?: number;
}

const GB = 1024 ** 3;

export const RUNBOOK: readonly RunbookRow[] = [
  { label: 'Database size', metric: 'fleet_db_size_bytes', kind: 'gauge', unit: 'bytes', warning: 8 * GB, critical: 10 * GB },
  { label: 'Database connections', metric: 'fleet_db_connections', kind: 'gauge', unit: 'count', warning: 60, critical: 80 },
  { label: 'Longest running query', metric: 'fleet_db_longest_query_seconds', kind: 'gauge', unit: 'seconds', warning: 5, critical: 10 },
  { label: 'Low-stock items', metric: 'fleet_inventory_low_stock_items', kind: 'gauge', unit: 'count', warning: 5, critical: 10 },
  { label: 'Failed queries per hour', metric: 'fleet_db_rollbacks_total', kind: 'per-hour', unit: 'count', warning: 5, critical: 20 },
  { label: 'Active admin sessions', metric: 'fleet_admin_sessions_active', kind: 'gauge', unit: 'count', warning: 5, critical: 10 },
  { label: 'Failed admin logins per hour', metric: 'fleet_admin_failed_logins_total', kind: 'per-hour', unit: 'count', warning: 10, critical: 25 },
  { label: 'Orphaned images', metric: 'fleet_images_orphaned', kind: 'gauge', unit: 'count', warning: 0 },
  { label: 'Admin users', metric: 'fleet_admin_users', kind: 'gauge', unit: 'count', criticalAtMost: 0 },
];

export function levelOf(row: RunbookRow, value: number | undefined): Level {
  if (value === undefined || Number.isNaN(value)) return 'nodata';
  if (row.criticalAtMost !== undefined && value <= row.criticalAtMost) return 'critical';
  if (row.critical !== undefined && value > row.critical) return 'critical';
  if (row.warning !== undefined && value > row.warning) return 'warning';
  return 'ok';
}

/** Sum over all label sets of a metric in this process's registry; undefined when absent or empty. */
export async function currentValue(metric: string): Promise<number | undefined> {
  const m = registry.getSingleMetric(metric);
  if (!m) return undefined;
  const { values } = await m.get();
  if (values.length === 0) return undefined;
  return values.reduce((sum, v) => sum + Number(v.value), 0);
}

/**
 * Remembers counter readings (one a minute, plus one per page view) so the page can show
 * "increase over the last hour" from an in-process counter. A fresh process shows the
 * increase over what it has seen so far, and says how long that is.
 */
export class CounterSampler {
  private readonly samples = new Map<string, { t: number; v: number }[]>();

  async sample(now = Date.now()): Promise<void> {
    for (const row of RUNBOOK) {
      if (row.kind !== 'per-hour') continue;
      const v = await currentValue(row.metric);
      if (v === undefined) continue;
      const list = this.samples.get(row.metric) ?? [];
      list.push({ t: now, v });
      while (list.length > 1 && list[0]!.t < now - 3_600_000) list.shift();
      this.samples.set(row.metric, list);
    }
  }

  /** Increase over the sampled window (≤ 1 h) and the window's length; a counter reset counts from 0. */
  increase(metric: string): { value: number; windowMs: number } | undefined {
    const list = this.samples.get(metric);
    if (!list || list.length === 0) return undefined;
    let value = 0;
    for (let i = 1; i < list.length; i++) {
      const d = list[i]!.v - list[i - 1]!.v;
      value += d >= 0 ? d : list[i]!.v;
    }
    return { value, windowMs: list.at(-1)!.t - list[0]!.t };
  }
}

export interface RunbookReading { row: RunbookRow; value: number | undefined; level: Level; note?: string }

export async function readRunbook(sampler: CounterSampler): Promise<RunbookReading[]> {
  await sampler.sample();
  return Promise.all(RUNBOOK.map(async (row) => {
    if (row.kind === 'per-hour') {
      const inc = sampler.increase(row.metric);
      if (!inc) return { row, value: undefined, level: 'nodata' as Level };
      const minutes = Math.max(1, Math.ceil(inc.windowMs / 60_000));
      return { row, value: inc.value, level: levelOf(row, inc.value), note: minutes >= 60 ? undefined : `counted over ${minutes} min so far` };
    }
    const value = await currentValue(row.metric);
    return { row, value, level: levelOf(row, value) };
  }));
}
