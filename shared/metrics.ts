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
