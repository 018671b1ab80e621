import cron from 'node-cron';

/** How many upcoming runs are sampled: enough to see a weekday or a month boundary. */
const SAMPLES = 32;

/**
 * Per queue, the longest gap between two upcoming scheduled runs, in seconds, over all of
 * its schedules. Rules compare the time since the last success with twice this value, so
 * an overridden schedule moves its alert with it (no interval is hard-coded in rules.yml).
 */
export function scheduleIntervals(entries: readonly { job: string; cron: string }[], timezone: string, now = new Date()): Map<string, number> {
  const runs = new Map<string, number[][]>();
  for (const e of entries) {
    // A stopped task only computes dates; it is destroyed at once so it never fires.
    const task = cron.createTask(e.cron, () => {}, { timezone });
    try {
      const times = task.getNextRuns(SAMPLES).map((d) => d.getTime()).filter((t) => t >= now.getTime());
      if (times.length > 1) runs.set(e.job, [...(runs.get(e.job) ?? []), times]);
    } finally {
      void task.destroy();
    }
  }
  const out = new Map<string, number>();
  for (const [queue, perSchedule] of runs) {
    // Merge only up to where every schedule was sampled, or a frequent schedule's last
    // sample followed by a weekly one would look like a week-long gap.
    const horizon = Math.min(...perSchedule.map((t) => t[t.length - 1]!));
    const sorted = [...new Set(perSchedule.flat())].filter((t) => t <= horizon).sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]! - sorted[i - 1]!);
    if (gap > 0) out.set(queue, gap / 1000);
  }
  return out;
}
