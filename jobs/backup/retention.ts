// Grandfather-father-son retention with restic's semantics ("keep-daily 7": for the last
// 7 days that have backups, keep the newest backup of each day; likewise ISO weeks and
// months). Periods are UTC. A backup kept by several rules is kept once. Pure, so the
// whole policy is tested without a database.

export interface RetentionPolicy { daily: number; weekly: number; monthly: number }
export interface Candidate { id: string; startedAt: Date; verified: boolean }
export interface RetentionPlan { keep: Map<string, string[]>; remove: string[] }

const pad = (n: number) => String(n).padStart(2, '0');

export function dayOf(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function monthOf(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

/** ISO 8601 week, e.g. "2025-W01" (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeekOf(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${pad(week)}`;
}

export function planRetention(backups: Candidate[], policy: RetentionPolicy): RetentionPlan {
  const sorted = [...backups].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1));
  const keep = new Map<string, string[]>();
  const reason = (id: string, why: string) => keep.set(id, [...(keep.get(id) ?? []), why]);
  const rules: [string, number, (d: Date) => string][] = [
    ['daily', policy.daily, dayOf], ['weekly', policy.weekly, isoWeekOf], ['monthly', policy.monthly, monthOf],
  ];
  for (const [name, n, periodOf] of rules) {
    let last: string | undefined;
    let kept = 0;
    for (const b of sorted) {
      if (kept >= n) break;
      const period = periodOf(b.startedAt);
      if (period === last) continue;
      last = period;
      kept++;
      reason(b.id, `${name} ${period}`);
    }
  }
  // Never drop the last backup known to restore: if no kept backup passed a verification,
  // keep the newest one that did.
  if (![...keep.keys()].some((id) => sorted.find((b) => b.id === id)?.verified)) {
    const verified = sorted.find((b) => b.verified);
    if (verified) reason(verified.id, 'newest verified backup');
  }
  return { keep, remove: sorted.filter((b) => !keep.has(b.id)).map((b) => b.id) };
}
