// Instruments for the maintenance benchmark: a concurrent inventory updater that records
// the worst update latency per phase, a peak-RSS sampler, and an EXPLAIN summariser.
import type { Pool, PoolClient } from '../shared/db.ts';

export interface PhaseStats {
  worstMs: number; worstHotMs: number; worstRandomMs: number; updates: number; hotUpdates: number;
  /** Updates that waited over 1 s for a lock (lock_timeout fired): the precise "blocked > 1 s" count. */
  lockWaitsOver1s: number;
}

export interface Updater {
  /** Starts a new phase: resets the stats; half the updates go to `hot` ids (rows the phase works on). */
  phase(hot: number[]): void;
  stats(): PhaseStats;
  stop(): Promise<void>;
}

/**
 * What the shop does all day: single-row stock updates in their own transactions (the
 * pool must be fresh: its connections get lock_timeout = 1 s). Each
 * takes the row lock and writes a new row version through the status trigger, like a real
 * quantity change, without changing values (so it does not alter what the checks find).
 */
export function startUpdater(pool: Pool, maxId: number, pauseMs = 5): Updater {
  // Waiting over 1 s for a row lock fails the update (55P03) and is counted: latency alone
  // also includes CPU and I/O stalls of a busy machine, this counts only lock waits.
  pool.on('connect', (client) => { client.query(`SET lock_timeout = '1s'`).catch(() => {}); });
  let hot: number[] = [];
  const fresh = (): PhaseStats => ({ worstMs: 0, worstHotMs: 0, worstRandomMs: 0, updates: 0, hotUpdates: 0, lockWaitsOver1s: 0 });
  let stats = fresh();
  let stopped = false;
  const loop = (async () => {
    let i = 0;
    while (!stopped) {
      const useHot = hot.length > 0 && i++ % 2 === 0;
      const id = useHot ? hot[Math.floor(Math.random() * hot.length)]! : 1 + Math.floor(Math.random() * maxId);
      const t = performance.now();
      const s = stats;
      try {
        await pool.query('UPDATE inventory SET quantity = quantity WHERE id = $1', [id]);
      } catch (err) {
        if ((err as { code?: string }).code !== '55P03') throw err;
        s.lockWaitsOver1s++;
      }
      const ms = performance.now() - t;
      s.worstMs = Math.max(s.worstMs, ms);
      s.updates++;
      if (useHot) {
        s.hotUpdates++;
        s.worstHotMs = Math.max(s.worstHotMs, ms);
      } else {
        s.worstRandomMs = Math.max(s.worstRandomMs, ms);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    phase(ids) { hot = ids; stats = fresh(); },
    stats: () => stats,
    stop: async () => { stopped = true; await loop; },
  };
}

/** Samples this process's RSS while fn runs; returns fn's value and the peak in MB. */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakRssMb: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PlanNode[] }

/** The scans of a statement's plan, e.g. "Index Only Scan using inventory_variant_canonical_idx". */
export async function planScans(client: PoolClient, sql: string, params: unknown[] = []): Promise<string> {
  const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
  const scans = new Set<string>();
  const walk = (node: PlanNode) => {
    if (node['Node Type'].includes('Scan') && (node['Relation Name'] || node['Index Name'])) {
      scans.add(`${node['Node Type']} ${node['Index Name'] ? `using ${node['Index Name']}` : `on ${node['Relation Name']}`}`);
    }
    for (const child of node.Plans ?? []) walk(child);
  };
  walk((rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan);
  return [...scans].join('; ');
}

/** Runs SQL in a transaction that is rolled back: times a hand-run statement without keeping its effect. */
export async function timeRolledBack(pool: Pool, statements: string[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const t = performance.now();
    for (const sql of statements) await client.query(sql);
    const seconds = (performance.now() - t) / 1000;
    await client.query('ROLLBACK');
    return seconds;
  } finally {
    client.release();
  }
}
