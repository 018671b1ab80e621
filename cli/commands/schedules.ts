import type { Command, Io } from '../command.ts';
import { parse, withProducer, UsageError } from '../command.ts';
import { remoteOptions, remoteFrom, api, REMOTE_HELP } from '../remote.ts';
import { createPool } from '../../shared/db.ts';
import { listSchedules, runScheduleNow, type ScheduleStatus } from '../../workers/schedules/status.ts';

function lastResult(s: ScheduleStatus): string {
  const r = s.lastRun;
  if (!r) return 'never run';
  const when = r.startedAt.replace(/\.\d+Z$/, 'Z');
  if (r.state === 'failed' || r.state === 'retrying') return `${r.state} ${when}: ${(r.error ?? '').split('\n')[0]!.slice(0, 120)}`;
  return `${r.state} ${when}${r.durationMs !== null ? ` (${r.durationMs} ms)` : ''}`;
}

function printTable(io: Io, schedules: ScheduleStatus[]): void {
  const head = ['schedule', 'job', 'cron', 'next run', 'last result'];
  const rows = schedules.map((s) => [s.name, s.job, `${s.cron} ${s.tz}`, s.next?.replace(/\.\d+Z$/, 'Z') ?? '-', lastResult(s)]);
  if (rows.length === 0) {
    io.out('no schedules (is the fleet started? schedules are applied when it starts)');
    return;
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [head, ...rows]) io.out(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: 'List schedules with next run and last result, or run one now',
  help: `Usage: fleet schedules [--json] [--remote <url>]
       fleet schedules run <name> [--remote <url>]

Lists what the running fleet has scheduled (BullMQ job schedulers in Redis): each
schedule's job, cron and time zone, next run, and the result of its last run (from
job_runs). "run <name>" enqueues the schedule's job now with its payload; the run counts
as the schedule's last run and is recorded as enqueued by "schedule:<name>/cli".
  --json      one JSON document instead of a table
${REMOTE_HELP}

Schedules come from the jobs' defaults, FLEET_SCHEDULES_FILE and SCHEDULE_<NAME>
variables (see docs/schedules.md); they are applied when the fleet starts.

Examples:
  fleet schedules
  fleet schedules run mv-refresh`,
  async run(args, io) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, ...remoteOptions });
    const [sub, name, ...extra] = positionals;
    if (sub !== undefined && sub !== 'run') throw new UsageError(`unknown subcommand "${sub}" (only "run <name>")`);
    if (sub === 'run' && !name) throw new UsageError('which schedule? (fleet schedules run <name>)');
    if (extra.length) throw new UsageError(`unexpected argument: ${extra[0]}`);
    const remote = remoteFrom(values, io);

    if (sub === 'run') {
      const run = remote
        ? await api<{ schedule: string; job: string; id: string }>(remote, 'POST', `/api/schedules/${encodeURIComponent(name!)}/run`)
        : await withProducer(io, (producer) => runScheduleNow(producer, name!, 'cli'));
      io.out(JSON.stringify(run));
      return 0;
    }
    const schedules = remote
      ? (await api<{ schedules: ScheduleStatus[] }>(remote, 'GET', '/api/schedules')).schedules
      : await withProducer(io, async (producer, config) => {
        const db = createPool(config.databaseUrl, { max: 1, applicationName: 'stockroom-fleet:cli' });
        try {
          return await listSchedules(producer, db);
        } finally {
          await db.end();
        }
      });
    if (values.json) io.out(JSON.stringify(schedules, null, 2));
    else printTable(io, schedules);
    return 0;
  },
};
