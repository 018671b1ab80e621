import { describe, it, expect } from 'vitest';
import { useTestFleet, spawnWorker } from '../helpers.ts';
import { scheduledRuns as runsOf, skippedWithoutCause, stopAll, sleep } from './support.ts';

// Real fleet processes (workers/mv-refresh.ts: the mv-refresh worker plus the scheduler),
// with mv-refresh's schedule overridden by SCHEDULE_MV_REFRESH to fire every second.

const fleet = useTestFleet();
const scheduledRuns = () => runsOf(fleet);

describe('schedules across processes', () => {
  it('fires each tick of a per-second schedule exactly once with three scheduler processes', async () => {
    await fleet.db.query('TRUNCATE job_runs');
    const env = { ...fleet.env, SCHEDULE_MV_REFRESH: '* * * * * *' };
    const procs = await Promise.all([0, 1, 2].map(() => spawnWorker('mv-refresh', env)));
    let codes: (number | string)[] = [];
    const ready = Date.now();
    let stopping = Infinity;
    try {
      await sleep(8_000);
    } finally {
      stopping = Date.now();
      codes = await stopAll(procs);
    }
    expect(codes).toEqual([0, 0, 0]);
    // One process created the scheduler; the others found it in place (or the lock taken).
    const creators = procs.filter((p) => /"created":\[[^\]]*"mv-refresh"/.test(p.output()));
    expect(creators).toHaveLength(1);

    const runs = await scheduledRuns();
    const during = runs.filter((r) => r.tick > ready && r.tick < stopping - 1_000);
    expect(during.length).toBeGreaterThanOrEqual(3);
    // Exactly once: no tick has two runs (BullMQ derives the job id from the tick), every run
    // is one attempt that completed…
    expect(new Set(runs.map((r) => r.tick)).size).toBe(runs.length);
    expect(during.every((r) => r.attempts === 1 && r.states.join() === 'completed')).toBe(true);
    // …and no tick went missing, except into a late run: a tick is skipped only when the run
    // before it started after that tick had passed (an overloaded machine), which is the same
    // coalescing as the catch-up rule. On an idle machine every second has its run.
    expect(skippedWithoutCause(during, 1_000)).toEqual([]);
  }, 60_000);
});
