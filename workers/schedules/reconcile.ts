import crypto from 'node:crypto';
import { Queue, type JobSchedulerJson } from 'bullmq';
import type { Services } from '../../shared/services.ts';
import type { JobEnvelope } from '../../shared/job.ts';
import { jobOptions } from '../../shared/queues.ts';
import type { ScheduleEntry, ScheduleSettings } from './config.ts';

/** Redis keys the scheduler owns, beside BullMQ's (`_` cannot start a queue name). */
export function schedulerKeys(prefix: string) {
  return {
    leader: `${prefix}:_fleet:scheduler:leader`,
    /** schedule name → {job, fingerprint} of what the leader last applied. */
    applied: `${prefix}:_fleet:scheduler:applied`,
    /** Queues this scheduler made one-at-a-time, so it only ever undoes its own setting. */
    exclusive: `${prefix}:_fleet:scheduler:exclusive`,
  };
}

export interface ReconcileReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  removed: string[];
  /** Schedules given one catch-up run because the change or repair dropped a due tick. */
  caughtUp: string[];
  exclusiveQueues: string[];
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
const LIVE_STATES = new Set(['delayed', 'waiting', 'prioritized', 'active', 'waiting-children']);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Everything that shapes the jobs a scheduler makes; a different fingerprint means upsert. */
function fingerprint(e: ScheduleEntry, opts: unknown): string {
  return crypto.createHash('sha256').update(canonical({ job: e.job, cron: e.cron, tz: e.tz, payload: e.payload, opts })).digest('hex');
}

/** A scheduler whose pending job is gone (removed by hand, or finished without a successor) never fires again. */
async function isLive(queue: Queue, s: JobSchedulerJson): Promise<boolean> {
  if (!s.next) return false;
  const job = await queue.getJob(`repeat:${s.key}:${s.next}`);
  return job ? LIVE_STATES.has(await job.getState()) : false;
}

/**
 * Makes BullMQ's job schedulers match the configured schedules. Only the process holding the
 * leader lock writes: concurrent upserts at boot have raced in BullMQ. BullMQ then fires each
 * tick once (its next-run job id is derived from the tick), whatever the number of workers.
 *
 * An unchanged scheduler is left alone, so the run that fell due while the fleet was down
 * stays queued and fires once on start (the catch-up); a changed or broken one is replaced,
 * and if that drops a due tick, one catch-up run is enqueued in its place.
 * Returns undefined when another process holds the lock.
 */
export async function reconcileSchedules(services: Services, input: ScheduleEntry[] | ScheduleSettings): Promise<ReconcileReport | undefined> {
  const settings: ScheduleSettings = Array.isArray(input) ? { entries: input, parallelQueues: [] } : input;
  const { redis, config, producer, log } = services;
  const keys = schedulerKeys(config.queuePrefix);
  const token = `${process.pid}:${crypto.randomBytes(8).toString('hex')}`;
  if (!(await redis.set(keys.leader, token, 'PX', 30_000, 'NX'))) {
    log.info('another process is reconciling schedules; skipping');
    return undefined;
  }
  const report: ReconcileReport = { created: [], updated: [], unchanged: [], removed: [], caughtUp: [], exclusiveQueues: [] };
  try {
    const applied = new Map(Object.entries(await redis.hgetall(keys.applied)).map(([k, v]) => [k, JSON.parse(v) as { job: string; fingerprint: string }]));
    for (const queueName of producer.jobNames) {
      const queue = producer.queue(queueName);
      const wanted = settings.entries.filter((e) => e.job === queueName);
      const existing = await queue.getJobSchedulers(0, -1, true);
      const opts = jobOptions(producer.job(queueName));
      for (const e of wanted) {
        const fp = fingerprint(e, opts);
        const ex = existing.find((s) => s.key === e.name);
        const same = ex && applied.get(e.name)?.fingerprint === fp && ex.pattern === e.cron && (ex.tz ?? 'UTC') === e.tz;
        if (same && (await isLive(queue, ex))) {
          report.unchanged.push(e.name);
          continue;
        }
        const dueTick = ex?.next && ex.next <= Date.now() ? ex.next : undefined;
        const data: JobEnvelope = { payload: e.payload, enqueuedBy: `schedule:${e.name}` };
        await queue.upsertJobScheduler(e.name, { pattern: e.cron, tz: e.tz }, { name: e.job, data });
        await redis.hset(keys.applied, e.name, JSON.stringify({ job: e.job, fingerprint: fp }));
        (ex ? report.updated : report.created).push(e.name);
        if (dueTick !== undefined) {
          // The id names the dropped tick, so a second reconcile cannot add it twice.
          await producer.enqueue(e.job, e.payload, { enqueuedBy: `schedule:${e.name}`, jobId: `catchup-${e.name}-${dueTick}` });
          report.caughtUp.push(e.name);
        }
      }
      for (const s of existing) {
        if (wanted.some((e) => e.name === s.key)) continue;
        await queue.removeJobScheduler(s.key);
        await redis.hdel(keys.applied, s.key);
        report.removed.push(s.key);
      }
      // Maintenance and backups run one at a time fleet-wide: a run longer than its interval
      // holds the queue, and the next tick's job waits for it instead of overlapping it.
      if (wanted.length > 0 && !settings.parallelQueues.includes(queueName)) {
        if ((await queue.getGlobalConcurrency()) !== 1) await queue.setGlobalConcurrency(1);
        await redis.sadd(keys.exclusive, queueName);
        report.exclusiveQueues.push(queueName);
      } else if (await redis.srem(keys.exclusive, queueName)) {
        await queue.removeGlobalConcurrency();
      }
    }
    // Schedules of queues this fleet no longer has (a job removed or renamed).
    for (const [name, { job }] of applied) {
      if (producer.jobNames.includes(job)) continue;
      const orphan = new Queue(job, { connection: redis, prefix: config.queuePrefix });
      try {
        await orphan.removeJobScheduler(name);
        if (await redis.srem(keys.exclusive, job)) await orphan.removeGlobalConcurrency();
      } finally {
        await orphan.close();
      }
      await redis.hdel(keys.applied, name);
      report.removed.push(name);
    }
    log.info({ ...report, schedules: settings.entries.map((e) => `${e.name} (${e.cron} ${e.tz})`) }, 'schedules reconciled');
    return report;
  } finally {
    await redis.eval(RELEASE, 1, keys.leader, token);
  }
}
