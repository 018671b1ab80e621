import type { Services } from '../shared/services.ts';
import type { AnyJob, JobEnvelope } from '../shared/job.ts';
import { validatePayload } from '../shared/queues.ts';

export interface ScheduleEntry { name: string; job: string; cron: string; payload: unknown }

/** The schedules to run: each job's defaults, with payloads validated at start. */
export function schedulesOf(jobs: readonly AnyJob[]): ScheduleEntry[] {
  return jobs.flatMap((job) => (job.schedules ?? []).map((s) => ({
    name: s.name ?? job.name,
    job: job.name,
    cron: s.cron,
    payload: validatePayload(job, s.payload ?? {}),
  })));
}

const LEADER_KEY = 'scheduler:leader';

/**
 * Reconciles BullMQ job schedulers with the configured schedules. Only the process holding
 * the leader lock writes, because concurrent upserts at boot have raced in BullMQ; BullMQ
 * itself then fires each tick once, whatever the number of workers.
 */
export async function reconcileSchedules(services: Services, entries: ScheduleEntry[]): Promise<boolean> {
  const { redis, config, producer, log } = services;
  const lockKey = `${config.queuePrefix}:${LEADER_KEY}`;
  const token = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  const got = await redis.set(lockKey, token, 'PX', 30_000, 'NX');
  if (!got) return false;
  try {
    for (const jobName of producer.jobNames) {
      const queue = producer.queue(jobName);
      const wanted = entries.filter((e) => e.job === jobName);
      for (const e of wanted) {
        const data: JobEnvelope = { payload: e.payload, enqueuedBy: `schedule:${e.name}` };
        await queue.upsertJobScheduler(e.name, { pattern: e.cron, tz: config.scheduleTimezone }, { name: jobName, data });
      }
      for (const existing of await queue.getJobSchedulers()) {
        if (!wanted.some((e) => e.name === existing.key)) {
          await queue.removeJobScheduler(existing.key);
          log.info({ schedule: existing.key }, 'removed schedule no longer configured');
        }
      }
    }
    log.info({ schedules: entries.map((e) => `${e.name} (${e.cron})`) }, 'schedules reconciled');
    return true;
  } finally {
    // Release only our own lock.
    await redis.eval(`if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`, 1, lockKey, token);
  }
}
