import client from 'prom-client';

// One registry per process (prom-client's global). Jobs declare their own metrics in their
// folder through counter()/gauge()/histogram(); asking twice for a name returns the same
// handle, so modules loaded in any order (or twice in tests) never collide.

export const registry = client.register;

type Labels<T extends string> = { name: string; help: string; labelNames?: readonly T[] };

function getOrCreate<M>(name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

export function counter<T extends string = never>(opts: Labels<T>): client.Counter<T> {
  return getOrCreate(opts.name, () => new client.Counter<T>({ ...opts, labelNames: opts.labelNames ?? [] }));
}

export function gauge<T extends string = never>(opts: Labels<T> & { collect?: (this: client.Gauge<T>) => void | Promise<void> }): client.Gauge<T> {
  return getOrCreate(opts.name, () => new client.Gauge<T>({ ...opts, labelNames: opts.labelNames ?? [] }));
}

export function histogram<T extends string = never>(opts: Labels<T> & { buckets?: number[] }): client.Histogram<T> {
  return getOrCreate(opts.name, () => new client.Histogram<T>({ ...opts, labelNames: opts.labelNames ?? [] }));
}

let defaultsStarted = false;
export function startDefaultMetrics(): void {
  if (defaultsStarted) return;
  defaultsStarted = true;
  client.collectDefaultMetrics({ register: registry });
}

/** The host's own metrics; label values are queue names and fixed states only. */
export function jobMetrics() {
  return {
    jobsTotal: counter<'queue' | 'status'>({
      name: 'fleet_jobs_total', help: 'Jobs finished by queue and outcome (completed, failed, retried)', labelNames: ['queue', 'status'],
    }),
    jobDuration: histogram<'queue'>({
      name: 'fleet_job_duration_seconds', help: 'Wall time of one job attempt', labelNames: ['queue'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 60, 300, 900, 3600],
    }),
    jobsActive: gauge<'queue'>({ name: 'fleet_jobs_active', help: 'Jobs running in this process', labelNames: ['queue'] }),
  };
}

/** Sets every known label set to 0 so dashboards see a series before the first event. */
export function primeJobMetrics(queues: string[]): void {
  const m = jobMetrics();
  for (const queue of queues) {
    for (const status of ['completed', 'failed', 'retried']) m.jobsTotal.inc({ queue, status }, 0);
    m.jobsActive.set({ queue }, 0);
  }
}
