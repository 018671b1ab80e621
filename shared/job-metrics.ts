import { registry } from './metrics.ts';

// The host's own metrics, counted in plain numbers and turned into Prometheus families only
// when scraped. prom-client's labelled handles hash their label set on every call; at
// 20k jobs/s the four calls per job cost more than the rest of the host's bookkeeping
// (bench/queue.ts). Names, help, labels and buckets are the stable interface dashboards use.

const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 60, 300, 900, 3600];

/** Counters of one queue in this process; the host bumps the fields directly. */
export class QueueStats {
  completed = 0;
  failed = 0;
  retried = 0;
  active = 0;
  durationSum = 0;
  durationCount = 0;
  /** Non-cumulative count per bucket (last slot: above the largest bound); summed when scraped. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);

  constructor(readonly queue: string) {}

  /** One attempt's wall time, in milliseconds (the job clock's unit). */
  observeDuration(ms: number): void {
    const seconds = Math.max(0, ms) / 1000; // a wall clock stepped back must not make a negative sample
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.durationSum += seconds;
    this.durationCount++;
  }
}

type Sample = { value: number; labels: Record<string, string | number>; metricName?: string };
type Family = { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; aggregator: 'sum'; values: Sample[] };

const stats = new Map<string, QueueStats>();

/** The stats of a queue; the same object for every host of this process (tests run several). */
export function queueStats(queue: string): QueueStats {
  let s = stats.get(queue);
  if (!s) stats.set(queue, (s = new QueueStats(queue)));
  return s;
}

function family(name: string, help: string, type: Family['type'], values: () => Sample[]) {
  return {
    name, help, type, aggregator: 'sum' as const,
    get: async (): Promise<Family> => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => {},
  };
}

const all = () => [...stats.values()];

const families = [
  family('fleet_jobs_total', 'Jobs finished by queue and outcome (completed, failed, retried)', 'counter', () =>
    all().flatMap((s) => [
      { value: s.completed, labels: { queue: s.queue, status: 'completed' } },
      { value: s.failed, labels: { queue: s.queue, status: 'failed' } },
      { value: s.retried, labels: { queue: s.queue, status: 'retried' } },
    ])),
  family('fleet_job_duration_seconds', 'Wall time of one job attempt', 'histogram', () =>
    all().flatMap((s) => {
      let cumulative = 0;
      const out: Sample[] = DURATION_BUCKETS.map((le, i) => {
        cumulative += s.buckets[i]!;
        return { value: cumulative, labels: { le, queue: s.queue }, metricName: 'fleet_job_duration_seconds_bucket' };
      });
      out.push({ value: s.durationCount, labels: { le: '+Inf', queue: s.queue }, metricName: 'fleet_job_duration_seconds_bucket' });
      out.push({ value: s.durationSum, labels: { queue: s.queue }, metricName: 'fleet_job_duration_seconds_sum' });
      out.push({ value: s.durationCount, labels: { queue: s.queue }, metricName: 'fleet_job_duration_seconds_count' });
      return out;
    })),
  family('fleet_jobs_active', 'Jobs running in this process', 'gauge', () =>
    all().map((s) => ({ value: s.active, labels: { queue: s.queue } }))),
];

for (const f of families) {
  // registerMetric accepts any object with prom-client's get() shape (as cluster aggregation does).
  if (!registry.getSingleMetric(f.name)) registry.registerMetric(f as unknown as Parameters<typeof registry.registerMetric>[0]);
}
