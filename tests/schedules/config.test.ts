import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { defineJob, type AnyJob } from '../../shared/job.ts';
import { fromEnv } from '../../shared/config.ts';
import { allJobs } from '../../jobs/index.ts';
import { resolveSchedules, envVarOf, ScheduleConfigError, type ScheduleConfig } from '../../workers/schedules/config.ts';

// Two stand-in jobs with several schedules each: the resolver must treat any job alike.
const reports = defineJob({
  name: 'report-mail',
  description: 'test job',
  schema: z.strictObject({ kind: z.enum(['daily', 'weekly']), limit: z.number().int().max(100).default(10) }),
  handler: async () => null,
  schedules: [{ cron: '0 6 * * *', payload: { kind: 'daily' }, name: 'report-daily' }, { cron: '0 7 * * 1', payload: { kind: 'weekly' }, name: 'report-weekly' }],
}) as AnyJob;
const sweep = defineJob({
  name: 'sweep', description: 'test job', schema: z.strictObject({}), handler: async () => null, schedules: [{ cron: '*/15 * * * *' }],
}) as AnyJob;
const jobs = [reports, sweep];

const base: ScheduleConfig = { scheduleTimezone: 'UTC', schedulesFile: undefined, scheduleOverrides: {} };
/** A config naming a schedule file, and the reader that returns its text. */
const file = (json: unknown): [ScheduleConfig, (path: string) => string] => [
  { ...base, schedulesFile: '/etc/fleet/schedules.json' }, () => JSON.stringify(json),
];

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ScheduleConfigError);
    return (err as ScheduleConfigError).problems;
  }
  throw new Error('expected a ScheduleConfigError');
}

describe('schedule configuration', () => {
  it('takes every job\'s default schedules, payloads validated with defaults applied, in the configured zone', () => {
    const { entries, parallelQueues } = resolveSchedules(jobs, { ...base, scheduleTimezone: 'Europe/Berlin' });
    expect(entries).toEqual([
      { name: 'report-daily', job: 'report-mail', cron: '0 6 * * *', tz: 'Europe/Berlin', payload: { kind: 'daily', limit: 10 }, source: 'the default schedule of job report-mail' },
      { name: 'report-weekly', job: 'report-mail', cron: '0 7 * * 1', tz: 'Europe/Berlin', payload: { kind: 'weekly', limit: 10 }, source: 'the default schedule of job report-mail' },
      { name: 'sweep', job: 'sweep', cron: '*/15 * * * *', tz: 'Europe/Berlin', payload: {}, source: 'the default schedule of job sweep' },
    ]);
    expect(parallelQueues).toEqual([]);
  });

  it('every registered job\'s defaults resolve', () => {
    const { entries } = resolveSchedules(allJobs, fromEnv({}));
    const declared = allJobs.flatMap((j) => (j.schedules ?? []).map((s) => s.name ?? j.name));
    expect(entries.map((e) => e.name).sort()).toEqual(declared.sort());
  });

  it('SCHEDULE_<NAME> changes a cron or turns a schedule off; SCHEDULE_TIMEZONE stays the zone', () => {
    const config = fromEnv({ SCHEDULE_TIMEZONE: 'America/New_York', SCHEDULE_REPORT_WEEKLY: 'off', SCHEDULE_SWEEP: '*/5 * * * * *' });
    expect(config.scheduleOverrides).toEqual({ SCHEDULE_REPORT_WEEKLY: 'off', SCHEDULE_SWEEP: '*/5 * * * * *' });
    const { entries } = resolveSchedules(jobs, config);
    expect(entries.map((e) => [e.name, e.cron, e.tz, e.source])).toEqual([
      ['report-daily', '0 6 * * *', 'America/New_York', 'the default schedule of job report-mail'],
      ['sweep', '*/5 * * * * *', 'America/New_York', 'SCHEDULE_SWEEP'],
    ]);
    expect(envVarOf('report-weekly')).toBe('SCHEDULE_REPORT_WEEKLY');
  });

  it('names the schedule and the variable for every bad override, all at once', () => {
    const found = problems(() => resolveSchedules(jobs, {
      ...base, scheduleOverrides: { SCHEDULE_SWEEP: '61 * * * *', SCHEDULE_REPORT_DAILY: 'every day', SCHEDULE_NIGHTLY: '0 1 * * *' },
    }));
    expect(found).toEqual([
      'SCHEDULE_NIGHTLY names no schedule (known: SCHEDULE_REPORT_DAILY, SCHEDULE_REPORT_WEEKLY, SCHEDULE_SWEEP)',
      'schedule "report-daily" (SCHEDULE_REPORT_DAILY): cron "every day" must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)',
      expect.stringMatching(/^schedule "sweep" \(SCHEDULE_SWEEP\): cron "61 \* \* \* \*" is invalid: .*59/),
    ]);
  });

  it('reads a schedule file: overrides, off, new schedules with payloads, parallel queues; env wins over the file', () => {
    const [config, read] = file({
      schedules: {
        'report-daily': { cron: '30 5 * * *', tz: 'Asia/Tokyo' },
        'report-weekly': 'off',
        'report-monthly': { job: 'report-mail', cron: '0 8 1 * *', payload: { kind: 'weekly', limit: 50 } },
        sweep: '0 * * * *',
      },
      parallelQueues: ['sweep'],
    });
    const { entries, parallelQueues } = resolveSchedules(jobs, { ...config, scheduleOverrides: { SCHEDULE_SWEEP: '0 */2 * * *' } }, read);
    expect(entries.map((e) => [e.name, e.job, e.cron, e.tz, e.payload])).toEqual([
      ['report-daily', 'report-mail', '30 5 * * *', 'Asia/Tokyo', { kind: 'daily', limit: 10 }],
      ['sweep', 'sweep', '0 */2 * * *', 'UTC', {}],
      ['report-monthly', 'report-mail', '0 8 1 * *', 'UTC', { kind: 'weekly', limit: 50 }],
    ]);
    expect(parallelQueues).toEqual(['sweep']);
  });

  it('rejects a bad schedule file with the file, the schedule and the field named', () => {
    const [config, read] = file({
      schedules: {
        'report-daily': { payload: { kind: 'hourly' } },
        'Bad Name': '0 1 * * *',
        orphan: { cron: '0 1 * * *' },
        moved: { job: 'nope', cron: '0 1 * * *' },
        sweep: { job: 'report-mail' },
        zoned: { job: 'sweep', cron: '0 1 * * *', tz: 'Mars/Olympus' },
      },
      parallelQueues: ['ghost'],
    });
    const where = 'FLEET_SCHEDULES_FILE (/etc/fleet/schedules.json)';
    expect(problems(() => resolveSchedules(jobs, config, read))).toEqual([
      `schedule "Bad Name" (${where}): name must be kebab-case (a-z, 0-9, -)`,
      `schedule "orphan" (${where}): a new schedule needs "job" and "cron" (known schedules: report-daily, report-weekly, sweep)`,
      `schedule "sweep" (${where}): it runs job sweep; use a new schedule name to run report-mail`,
      `${where}: parallelQueues names unknown queue "ghost"`,
      expect.stringMatching(new RegExp(`^schedule "report-daily" \\(${where.replace(/[()]/g, '\\$&')}\\): payload kind: Invalid option`)),
      `schedule "moved" (${where}): unknown job "nope" (valid: report-mail, sweep)`,
      `schedule "zoned" (${where}): time zone "Mars/Olympus" is not a known IANA zone`,
    ]);
    expect(problems(() => resolveSchedules(jobs, config, () => '{ nope'))[0]).toMatch(/^FLEET_SCHEDULES_FILE \(\/etc\/fleet\/schedules.json\) is not valid JSON/);
    expect(problems(() => resolveSchedules(jobs, config, () => '{"schedule": {}}'))[0]).toMatch(/FLEET_SCHEDULES_FILE .* at \(root\): Unrecognized key: "schedule"/);
    expect(problems(() => resolveSchedules(jobs, { ...base, schedulesFile: '/nonexistent/x.json' }))).toEqual(['FLEET_SCHEDULES_FILE: cannot read /nonexistent/x.json: ENOENT']);
  });

  it('the error message lists every problem for the operator', () => {
    try {
      resolveSchedules(jobs, { ...base, scheduleOverrides: { SCHEDULE_SWEEP: 'x' } });
      throw new Error('unreachable');
    } catch (err) {
      expect((err as Error).message).toBe('Invalid configuration:\n  - schedule "sweep" (SCHEDULE_SWEEP): cron "x" must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)');
    }
  });
});
