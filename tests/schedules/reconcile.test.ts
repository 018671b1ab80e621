import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { z } from 'zod';
import { Queue } from 'bullmq';
import { useTestFleet, waitFor } from '../helpers.ts';
import { defineJob, type AnyJob } from '../../shared/job.ts';
import { createServices, type Services } from '../../shared/services.ts';
import { createLogger } from '../../shared/logger.ts';
import { startHost } from '../../shared/host.ts';
import { reconcileSchedules, schedulerKeys } from '../../workers/schedules/reconcile.ts';
import { resolveSchedules, type ScheduleConfig } from '../../workers/schedules/config.ts';

const fleet = useTestFleet();

// Stand-in jobs: `nap` outlasts its one-second schedule, to show runs never overlap.
const nap = defineJob({
  name: 'nap',
  description: 'sleeps longer than its schedule interval',
  schema: z.strictObject({ ms: z.number().int().max(10_000).default(2_500) }),
  handler: async ({ ms }, ctx) => {
    await new Promise((resolve) => { const t = setTimeout(resolve, ms); ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve(null); }); });
    return { slept: ms };
  },
  concurrency: 2,
  options: { attempts: 1 },
  schedules: [{ cron: '* * * * * *' }],
}) as AnyJob;
const tidy = defineJob({
  name: 'tidy', description: 'two schedules on one queue', schema: z.strictObject({ deep: z.boolean().default(false) }), handler: async () => ({}),
  schedules: [{ cron: '0 3 * * *', name: 'tidy-nightly' }, { cron: '0 4 * * 0', name: 'tidy-weekly', payload: { deep: true } }],
}) as AnyJob;
const jobs = [nap, tidy];

let services: Services;
const base: ScheduleConfig = { scheduleTimezone: 'UTC', schedulesFile: undefined, scheduleOverrides: {} };
const settings = (overrides: Record<string, string> = {}) => resolveSchedules(jobs, { ...base, scheduleOverrides: overrides });
const queue = (name: string) => services.producer.queue(name);
// BullMQ lists schedulers by next run; sorted by key, the expectations do not depend on the day the test runs.
const schedulers = async (name: string) => (await queue(name).getJobSchedulers(0, -1, true))
  .map((s) => ({ key: s.key, pattern: s.pattern, next: s.next }))
  .sort((a, b) => a.key.localeCompare(b.key));

beforeAll(async () => {
  services = await createServices(fleet.config, jobs, { log: createLogger('silent'), buckets: false });
});
afterAll(async () => {
  await services?.close();
});

describe('schedule reconciliation', () => {
  it('creates, leaves alone, updates and removes schedulers; scheduled queues run one at a time', async () => {
    const off = { SCHEDULE_NAP: 'off' };
    const first = await reconcileSchedules(services, settings(off));
    expect(first).toMatchObject({ created: ['tidy-nightly', 'tidy-weekly'], updated: [], removed: [], exclusiveQueues: ['tidy'] });
    const created = await schedulers('tidy');
    expect(created.map((s) => [s.key, s.pattern])).toEqual([['tidy-nightly', '0 3 * * *'], ['tidy-weekly', '0 4 * * 0']]);
    const weekly = await queue('tidy').getJobScheduler('tidy-weekly');
    expect(weekly?.tz).toBe('UTC');
    expect(weekly?.template?.data).toEqual({ payload: { deep: true }, enqueuedBy: 'schedule:tidy-weekly' });
    expect(await queue('tidy').getGlobalConcurrency()).toBe(1);
    expect(await queue('nap').getGlobalConcurrency()).toBeNull();

    // A second start with the same configuration touches nothing.
    expect(await reconcileSchedules(services, settings(off))).toMatchObject({ created: [], updated: [], unchanged: ['tidy-nightly', 'tidy-weekly'] });
    expect(await schedulers('tidy')).toEqual(created);

    // Changed cron → updated; a schedule taken out → gone from Redis, its queue free again.
    const changed = await reconcileSchedules(services, settings({ ...off, SCHEDULE_TIDY_NIGHTLY: '0 2 * * *', SCHEDULE_TIDY_WEEKLY: 'off' }));
    expect(changed).toMatchObject({ updated: ['tidy-nightly'], removed: ['tidy-weekly'] });
    expect((await schedulers('tidy')).map((s) => [s.key, s.pattern])).toEqual([['tidy-nightly', '0 2 * * *']]);
    await reconcileSchedules(services, settings({ ...off, SCHEDULE_TIDY_NIGHTLY: 'off', SCHEDULE_TIDY_WEEKLY: 'off' }));
    expect(await schedulers('tidy')).toEqual([]);
    expect(await queue('tidy').getGlobalConcurrency()).toBeNull();
    expect(await services.redis.hkeys(schedulerKeys(fleet.config.queuePrefix).applied)).toEqual([]);
  });

  it('reverts a scheduler edited by hand (e.g. in bull-board) and repairs one whose pending job was removed', async () => {
    const off = { SCHEDULE_NAP: 'off' };
    await reconcileSchedules(services, settings(off));
    await queue('tidy').upsertJobScheduler('tidy-nightly', { pattern: '* * * * *', tz: 'UTC' }, { name: 'tidy', data: {} });
    const pending = await queue('tidy').getJobScheduler('tidy-weekly');
    // Remove the pending job behind BullMQ's back (it refuses to remove a scheduler's next run).
    const pendingId = `repeat:tidy-weekly:${pending!.next}`;
    await services.redis.zrem(`${fleet.config.queuePrefix}:tidy:delayed`, pendingId);
    await services.redis.del(`${fleet.config.queuePrefix}:tidy:${pendingId}`);
    const report = await reconcileSchedules(services, settings(off));
    expect(report?.updated.sort()).toEqual(['tidy-nightly', 'tidy-weekly']);
    expect((await queue('tidy').getJobScheduler('tidy-nightly'))?.pattern).toBe('0 3 * * *');
    const repaired = await queue('tidy').getJobScheduler('tidy-weekly');
    expect(await (await queue('tidy').getJob(`repeat:tidy-weekly:${repaired!.next}`))?.getState()).toBe('delayed');
  });

  it('reconciles from one leader: while another process holds the lock nothing is written', async () => {
    const keys = schedulerKeys(fleet.config.queuePrefix);
    await services.redis.set(keys.leader, 'someone-else', 'PX', 5_000);
    try {
      expect(await reconcileSchedules(services, settings({ SCHEDULE_TIDY_NIGHTLY: '0 1 * * *' }))).toBeUndefined();
      expect((await queue('tidy').getJobScheduler('tidy-nightly'))?.pattern).toBe('0 3 * * *');
    } finally {
      await services.redis.del(keys.leader);
    }
    // Three replicas booting at once: one writes, the others skip or find nothing to do.
    const replicas = await Promise.all([0, 1, 2].map(() => createServices(fleet.config, jobs, { log: createLogger('silent'), buckets: false })));
    try {
      const reports = await Promise.all(replicas.map((r) => reconcileSchedules(r, settings({ SCHEDULE_TIDY_NIGHTLY: '30 1 * * *', SCHEDULE_NAP: 'off' }))));
      expect(reports.filter((r) => r?.updated.includes('tidy-nightly'))).toHaveLength(1);
      expect((await schedulers('tidy')).map((s) => [s.key, s.pattern])).toEqual([['tidy-nightly', '30 1 * * *'], ['tidy-weekly', '0 4 * * 0']]);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('a schedule changed while a tick was due gets that tick as one catch-up run, not one per reconcile', async () => {
    await reconcileSchedules(services, settings({ SCHEDULE_NAP: '* * * * * *' })); // no worker: its ticks fall due unrun
    await waitFor(async () => ((await queue('nap').getJobScheduler('nap'))?.next ?? Infinity) < Date.now() - 1_200, { timeoutMs: 5_000, what: 'a due tick' });
    const due = (await queue('nap').getJobScheduler('nap'))!.next!;
    const report = await reconcileSchedules(services, settings({ SCHEDULE_NAP: '*/30 * * * * *' }));
    expect(report).toMatchObject({ updated: ['nap'], caughtUp: ['nap'] });
    const again = await reconcileSchedules(services, settings({ SCHEDULE_NAP: '*/30 * * * * *' }));
    expect(again).toMatchObject({ unchanged: expect.arrayContaining(['nap']), caughtUp: [] });
    const waiting = await queue('nap').getJobs(['waiting', 'prioritized', 'delayed']);
    const ids = waiting.map((j) => j.id!).sort();
    expect(ids.filter((id) => id.startsWith('catchup-'))).toEqual([`catchup-nap-${due}`]);
    expect(ids.filter((id) => id.startsWith('repeat:'))).toHaveLength(1); // the next regular tick, in the future
    await queue('nap').obliterate({ force: true });
    await services.redis.hdel(schedulerKeys(fleet.config.queuePrefix).applied, 'nap');
  });

  /** Runs `nap` on its one-second schedule with two hosts of concurrency 2; returns the run intervals. */
  async function napRuns(parallel: boolean) {
    await fleet.db.query(`DELETE FROM job_runs WHERE queue = 'nap'`);
    await reconcileSchedules(services, { ...settings({ SCHEDULE_TIDY_NIGHTLY: 'off', SCHEDULE_TIDY_WEEKLY: 'off' }), parallelQueues: parallel ? ['nap'] : [] });
    const hosts = [await startHost(services, [nap]), await startHost(services, [nap])];
    try {
      await waitFor(async () => (await fleet.db.query(`SELECT 1 FROM job_runs WHERE queue = 'nap' AND state = 'completed'`)).rowCount! >= 3, { timeoutMs: 20_000, what: 'three naps' });
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
      await queue('nap').obliterate({ force: true });
      await services.redis.hdel(schedulerKeys(fleet.config.queuePrefix).applied, 'nap');
    }
    const { rows } = await fleet.db.query<{ started_at: Date; finished_at: Date }>(
      `SELECT started_at, finished_at FROM job_runs WHERE queue = 'nap' AND state = 'completed' ORDER BY started_at`);
    return rows.map((r, i) => ({ overlapsPrevious: i > 0 && r.started_at < rows[i - 1]!.finished_at }));
  }

  it('a run longer than its interval never overlaps the next, even with two workers of concurrency 2', async () => {
    const runs = await napRuns(false);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.filter((r) => r.overlapsPrevious)).toEqual([]);
  });

  it('(control) the same schedule on a queue left parallel does overlap', async () => {
    const runs = await napRuns(true);
    expect(runs.some((r) => r.overlapsPrevious)).toBe(true);
  });

  it('removes the schedules of a queue the fleet no longer has', async () => {
    const keys = schedulerKeys(fleet.config.queuePrefix);
    const gone = new Queue('retired-job', { connection: services.redis, prefix: fleet.config.queuePrefix });
    try {
      await gone.upsertJobScheduler('retired-job', { pattern: '0 5 * * *' }, { name: 'retired-job', data: {} });
      await services.redis.hset(keys.applied, 'retired-job', JSON.stringify({ job: 'retired-job', fingerprint: 'x' }));
      const report = await reconcileSchedules(services, settings());
      expect(report?.removed).toContain('retired-job');
      expect(await gone.getJobSchedulers()).toEqual([]);
    } finally {
      await gone.obliterate({ force: true });
      await gone.close();
    }
  });

  it('keeps a scheduled queue parallel when the schedule file says so', async () => {
    await reconcileSchedules(services, { ...settings(), parallelQueues: ['nap'] });
    expect(await queue('nap').getGlobalConcurrency()).toBeNull();
    expect(await queue('tidy').getGlobalConcurrency()).toBe(1);
  });
});
