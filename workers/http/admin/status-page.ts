import type { Services } from '../../../shared/services.ts';
import { listSchedules, type ScheduleStatus } from '../../schedules/status.ts';
import { readRunbook, type CounterSampler, type Level, type RunbookRow } from './thresholds.ts';
import { esc, page, badge, fmtTime, fmtValue } from './html.ts';

/** A schedule's health: failed last run → critical; running late (no success in two intervals) → warning. */
export function scheduleLevel(s: ScheduleStatus, now = Date.now()): Level {
  if (!s.lastRun) return 'nodata';
  if (s.lastRun.state === 'failed') return 'critical';
  if (s.lastRun.state === 'retrying') return 'warning';
  const last = s.lastSuccessAt ? new Date(s.lastSuccessAt).getTime() : undefined;
  if (s.intervalMs && last !== undefined && now - last > 2 * s.intervalMs + 60_000) return 'warning';
  return s.lastRun.state === 'completed' || s.lastRun.state === 'active' ? 'ok' : 'warning';
}

function threshold(row: RunbookRow, which: 'warning' | 'critical'): string {
  if (which === 'critical' && row.criticalAtMost !== undefined) return `≤ ${fmtValue(row.criticalAtMost, row.unit)}`;
  const v = row[which];
  return v === undefined ? '<span class="muted">—</span>' : `&gt; ${esc(fmtValue(v, row.unit))}`;
}

const LEVEL_TEXT: Record<Level, string> = { ok: 'ok', warning: 'warning', critical: 'critical', nodata: 'no data' };

export async function renderStatus(services: Services, sampler: CounterSampler, admin: string): Promise<string> {
  const now = Date.now();
  const [schedules, runbook, queues] = await Promise.all([
    listSchedules(services.producer, services.db),
    readRunbook(sampler),
    Promise.all(services.producer.jobNames.map(async (name) => {
      const q = services.producer.queue(name);
      const [counts, paused] = await Promise.all([q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'), q.isPaused()]);
      return { name, counts, paused };
    })),
  ]);

  const scheduleRows = schedules.map((s) => {
    const level = scheduleLevel(s, now);
    const last = s.lastRun;
    const result = !last ? '<span class="muted">no run yet</span>'
      : last.state === 'failed' || last.state === 'retrying' ? `${esc(last.state)}: <span class="err">${esc((last.error ?? '').slice(0, 300))}</span>`
        : `${esc(last.state)}${last.durationMs !== null ? ` in ${esc(fmtValue(last.durationMs / 1000, 'seconds'))}` : ''}`;
    return `<tr data-schedule="${esc(s.name)}"><td>${badge(level, LEVEL_TEXT[level])}</td><td>${esc(s.name)}</td><td>${esc(s.job)}</td>
<td><code>${esc(s.cron)}</code> <span class="muted">${esc(s.tz)}</span></td><td>${fmtTime(s.next, now)}</td>
<td>${fmtTime(last?.startedAt, now)}</td><td>${result}</td></tr>`;
  }).join('\n');

  const runbookRows = runbook.map(({ row, value, level, note }) => `<tr data-metric="${esc(row.metric)}"><td>${badge(level, LEVEL_TEXT[level])}</td>
<td>${esc(row.label)}<br><code class="muted">${esc(row.metric)}</code></td>
<td>${value === undefined ? '<span class="muted">no data</span>' : esc(fmtValue(value, row.unit))}${note ? ` <span class="muted">(${esc(note)})</span>` : ''}</td>
<td>${threshold(row, 'warning')}</td><td>${threshold(row, 'critical')}</td></tr>`).join('\n');

  const queueRows = queues.map(({ name, counts, paused }) => {
    const failed = counts.failed ?? 0;
    return `<tr data-queue="${esc(name)}"><td>${badge(failed > 0 ? 'warning' : 'ok', failed > 0 ? 'failures' : 'ok')}</td>
<td><a href="/admin/queues/queue/${encodeURIComponent(name)}">${esc(name)}</a>${paused ? ' <span class="muted">(paused)</span>' : ''}</td>
<td>${counts.waiting ?? 0}</td><td>${counts.active ?? 0}</td><td>${counts.delayed ?? 0}</td><td>${failed}</td></tr>`;
  }).join('\n');

  return page('Status', `<main>
<p class="muted">Signed in as ${esc(admin)} · ${esc(new Date(now).toISOString())} · refreshes every 30 s</p>
<h2>Schedules</h2>
<table id="schedules"><thead><tr><th></th><th>Schedule</th><th>Job</th><th>Cron</th><th>Next run</th><th>Last run</th><th>Result</th></tr></thead>
<tbody>${scheduleRows || '<tr><td colspan="7" class="muted">No schedules</td></tr>'}</tbody></table>
<h2>Runbook metrics</h2>
<table id="runbook"><thead><tr><th></th><th>Metric</th><th>Value</th><th>Warning</th><th>Critical</th></tr></thead><tbody>${runbookRows}</tbody></table>
<h2>Queues</h2>
<table id="queues"><thead><tr><th></th><th>Queue</th><th>Waiting</th><th>Active</th><th>Delayed</th><th>Failed</th></tr></thead><tbody>${queueRows}</tbody></table>
</main>`).replace('<head>', '<head><meta http-equiv="refresh" content="30">');
}
