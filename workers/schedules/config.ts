import fs from 'node:fs';
import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { ConfigError, type Config } from '../../shared/config.ts';
import type { AnyJob } from '../../shared/job.ts';
import { validatePayload } from '../../shared/queues.ts';
import { PayloadError, errorMessage } from '../../shared/errors.ts';

// Where the fleet's schedules come from: each job's defaults (SPEC §10), then the schedule
// file (FLEET_SCHEDULES_FILE), then SCHEDULE_<NAME> variables. Everything is checked at
// start, and every problem names the schedule and the place it came from.

export interface ScheduleEntry {
  /** Also the BullMQ job scheduler id and, as `schedule:<name>`, job_runs.enqueued_by. */
  name: string;
  job: string;
  cron: string;
  tz: string;
  /** The validated payload (schema defaults applied). */
  payload: unknown;
  source: string;
}

export interface ScheduleSettings {
  entries: ScheduleEntry[];
  /** Scheduled queues that may run several jobs at once (opted out of one-at-a-time). */
  parallelQueues: string[];
}

export type ScheduleConfig = Pick<Config, 'scheduleTimezone' | 'schedulesFile' | 'scheduleOverrides'>;

export class ScheduleConfigError extends ConfigError {
  constructor(problems: string[]) {
    super(problems);
    this.name = 'ScheduleConfigError';
  }
}

const NAME = /^[a-z][a-z0-9-]{1,62}$/;

/** The variable that overrides a schedule: mv-refresh → SCHEDULE_MV_REFRESH. */
export function envVarOf(name: string): string {
  return `SCHEDULE_${name.toUpperCase().replace(/-/g, '_')}`;
}

function parseCron(cron: string, tz: string, currentDate: Date) {
  return CronExpressionParser.parse(cron, { tz, currentDate });
}

/** Checks a cron expression with the parser BullMQ fires it with; returns the problem, if any. */
export function checkCron(cron: string, tz: string): string | undefined {
  const fields = cron.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    return `cron "${cron}" must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)`;
  }
  try {
    parseCron(cron, tz, new Date()).next();
    return undefined;
  } catch (err) {
    return `cron "${cron}" is invalid: ${errorMessage(err)}`;
  }
}

export function checkTimezone(tz: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `time zone "${tz}" is not a known IANA zone`;
  }
}

/** The tick after `from`. */
export function nextTick(cron: string, tz: string, from = new Date()): Date {
  return parseCron(cron, tz, from).next().toDate();
}

/** The nominal interval: the gap between the next two ticks (exact for regular schedules). */
export function intervalMs(cron: string, tz: string, from = new Date()): number {
  const it = parseCron(cron, tz, from);
  const a = it.next().getTime();
  return it.next().getTime() - a;
}

const entrySchema = z.union([
  z.string().min(1),
  z.strictObject({
    job: z.string().optional(),
    cron: z.string().min(1).optional(),
    tz: z.string().min(1).optional(),
    payload: z.unknown().optional(),
    enabled: z.boolean().optional(),
  }),
]);

const fileSchema = z.strictObject({
  schedules: z.record(z.string(), entrySchema).default({}),
  parallelQueues: z.array(z.string()).default([]),
});

interface Draft { name: string; job: string; cron: string; tz: string; payload: unknown; enabled: boolean; source: string }

function readScheduleFile(path: string, readFile: (p: string) => string, problems: string[]): z.output<typeof fileSchema> | undefined {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    problems.push(`FLEET_SCHEDULES_FILE: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    problems.push(`FLEET_SCHEDULES_FILE (${path}) is not valid JSON: ${errorMessage(err)}`);
    return undefined;
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`FLEET_SCHEDULES_FILE (${path}) at ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
    return undefined;
  }
  return parsed.data;
}

/**
 * The schedules this fleet runs, after overrides; throws ScheduleConfigError listing every
 * bad schedule at once. Handles any job's `schedules` generically.
 */
export function resolveSchedules(jobs: readonly AnyJob[], config: ScheduleConfig, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): ScheduleSettings {
  const problems: string[] = [];
  const byJob = new Map(jobs.map((j) => [j.name, j]));
  const drafts = new Map<string, Draft>();

  for (const job of jobs) {
    for (const s of job.schedules ?? []) {
      const name = s.name ?? job.name;
      const source = `the default schedule of job ${job.name}`;
      if (!NAME.test(name)) problems.push(`schedule "${name}" (${source}): name must be kebab-case`);
      if (drafts.has(name)) problems.push(`schedule "${name}" is declared twice (jobs ${drafts.get(name)!.job} and ${job.name}); give one a name`);
      drafts.set(name, { name, job: job.name, cron: s.cron, tz: config.scheduleTimezone, payload: s.payload ?? {}, enabled: true, source });
    }
  }

  let parallelQueues: string[] = [];
  if (config.schedulesFile) {
    const file = readScheduleFile(config.schedulesFile, readFile, problems);
    const source = `FLEET_SCHEDULES_FILE (${config.schedulesFile})`;
    for (const [name, value] of Object.entries(file?.schedules ?? {})) {
      const o = typeof value === 'string' ? (value.trim().toLowerCase() === 'off' ? { enabled: false } : { cron: value }) : value;
      const existing = drafts.get(name);
      if (!NAME.test(name)) {
        problems.push(`schedule "${name}" (${source}): name must be kebab-case (a-z, 0-9, -)`);
      } else if (existing) {
        if (o.job !== undefined && o.job !== existing.job) {
          problems.push(`schedule "${name}" (${source}): it runs job ${existing.job}; use a new schedule name to run ${o.job}`);
        }
        drafts.set(name, {
          ...existing, cron: o.cron ?? existing.cron, tz: o.tz ?? existing.tz, payload: o.payload ?? existing.payload,
          enabled: o.enabled ?? true, source,
        });
      } else if (!o.job || !o.cron) {
        problems.push(`schedule "${name}" (${source}): a new schedule needs "job" and "cron"${drafts.size ? ` (known schedules: ${[...drafts.keys()].join(', ')})` : ''}`);
      } else {
        drafts.set(name, { name, job: o.job, cron: o.cron, tz: o.tz ?? config.scheduleTimezone, payload: o.payload ?? {}, enabled: o.enabled ?? true, source });
      }
    }
    parallelQueues = file?.parallelQueues ?? [];
    for (const q of parallelQueues) if (!byJob.has(q)) problems.push(`${source}: parallelQueues names unknown queue "${q}"`);
  }

  const byVar = new Map([...drafts.values()].map((d) => [envVarOf(d.name), d]));
  for (const [variable, value] of Object.entries(config.scheduleOverrides)) {
    const draft = byVar.get(variable);
    if (!draft) {
      problems.push(`${variable} names no schedule (known: ${[...byVar.keys()].join(', ') || 'none'})`);
      continue;
    }
    const off = value.toLowerCase() === 'off';
    drafts.set(draft.name, { ...draft, cron: off ? draft.cron : value, enabled: !off, source: variable });
  }

  const entries: ScheduleEntry[] = [];
  for (const d of drafts.values()) {
    if (!d.enabled) continue;
    const where = `schedule "${d.name}" (${d.source})`;
    const job = byJob.get(d.job);
    if (!job) {
      problems.push(`${where}: unknown job "${d.job}" (valid: ${[...byJob.keys()].join(', ')})`);
      continue;
    }
    const tzProblem = checkTimezone(d.tz);
    if (tzProblem) {
      problems.push(`${where}: ${tzProblem}`);
      continue;
    }
    const cronProblem = checkCron(d.cron, d.tz);
    if (cronProblem) problems.push(`${where}: ${cronProblem}`);
    let payload: unknown;
    let payloadOk = true;
    try {
      payload = validatePayload(job, d.payload);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      payloadOk = false;
      problems.push(`${where}: payload ${err.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    }
    if (!cronProblem && payloadOk) entries.push({ name: d.name, job: d.job, cron: d.cron.trim(), tz: d.tz, payload, source: d.source });
  }
  if (problems.length > 0) throw new ScheduleConfigError(problems);
  return { entries, parallelQueues };
}
