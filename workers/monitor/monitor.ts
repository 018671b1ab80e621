import type { Services } from '../../shared/services.ts';
import { createPool, type Pool } from '../../shared/db.ts';
import { errorMessage } from '../../shared/errors.ts';
import { maskUrlCredentials } from '../../shared/redact.ts';
import { CONNECTION_STATES, JOB_STATES, absoluteCounters, invalidateDatabase, invalidateRedis, monitorMetrics, setCounter, type MonitorMetrics, type MonitorSource } from './metrics.ts';
import { readDatabase, type DbSnapshot } from './queries.ts';
import { scheduleIntervals } from './schedule.ts';

export interface MonitorOptions {
  /** Schedules whose queues get fleet_job_last_success_timestamp_seconds and an interval. */
  schedules?: readonly { job: string; cron: string }[];
  /** Time between refreshes [MONITOR_INTERVAL_MS]. */
  intervalMs?: number;
  /** statement_timeout of the monitor's transaction, and the limit for Redis counts [5000]. */
  timeoutMs?: number;
}

export interface MonitorStatus {
  /** starting: no refresh finished yet; failing: the latest refresh failed (numbers withdrawn). */
  state: 'starting' | 'ok' | 'failing' | 'stopped';
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  consecutiveFailures: number;
  lastError: string | null;
}

export interface Monitor {
  /** Refreshes now (or joins the refresh in flight); resolves true when every source answered. */
  refresh(): Promise<boolean>;
  status(): MonitorStatus;
  stop(): Promise<void>;
}

type Deps = Pick<Services, 'config' | 'log' | 'producer'>;

function normalizeState(state: string): (typeof CONNECTION_STATES)[number] {
  const s = state.replace(/[^a-z]+/g, '_').replace(/^_|_$/g, '');
  return (CONNECTION_STATES as readonly string[]).includes(s) ? s as (typeof CONNECTION_STATES)[number] : 'other';
}

function publishDatabase(m: MonitorMetrics, s: DbSnapshot): void {
  m.dbSize.set(s.sizeBytes);
  for (const state of CONNECTION_STATES) m.connections.set({ state }, 0);
  for (const [raw, n] of Object.entries(s.connections)) m.connections.inc({ state: normalizeState(raw) }, n);
  m.longestQuery.set(s.longestQuerySeconds);
  const counters = absoluteCounters();
  setCounter(counters.rollbacks, s.rollbacks);
  m.lowStock.set(s.lowStock);
  m.outOfStock.set(s.outOfStock);
  m.sessionsActive.set(s.sessionsActive);
  setCounter(counters.failedLogins, s.failedLogins);
  m.adminUsers.set(s.adminUsers);
  m.imagesOrphaned.set(s.imagesOrphaned ?? NaN);
  for (const [queue, ts] of Object.entries(s.lastSuccess)) m.jobLastSuccess.set({ queue }, ts);
  m.backupLastSuccess.set(s.backup.lastSuccess);
  m.backupLastVerified.set(s.backup.lastVerified);
  m.backupSize.set(s.backup.sizeBytes ?? NaN);
  m.backupRestoreDuration.set(s.backup.restoreSeconds ?? NaN);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/**
 * The fleet's database monitor: one per fleet, in the HTTP-serving process. It refreshes
 * on a timer, never per scrape, so a scrape costs nothing and a slow database cannot pile
 * up queries; each refresh runs read-only with a short statement_timeout on its own
 * one-connection pool (visible as application_name stockroom-fleet-monitor).
 */
export function startMonitor(deps: Deps, opts: MonitorOptions = {}): Monitor {
  const { config, log, producer } = deps;
  const intervalMs = opts.intervalMs ?? config.monitorIntervalMs;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const m = monitorMetrics();
  const schedules = opts.schedules ?? [];
  const scheduled = [...new Set(schedules.map((s) => s.job))];
  const pool: Pool = createPool(config.databaseUrl, { max: 1, applicationName: 'stockroom-fleet-monitor' });

  // Nothing is known until the first refresh: no zeros that look like readings.
  invalidateDatabase(m);
  invalidateRedis(m);
  for (const source of ['database', 'redis'] as const) m.errors.inc({ source }, 0);
  m.scheduleInterval.reset();
  for (const [queue, seconds] of scheduleIntervals(schedules, config.scheduleTimezone)) m.scheduleInterval.set({ queue }, seconds);

  const st: MonitorStatus = { state: 'starting', lastSuccessAt: null, lastAttemptAt: null, consecutiveFailures: 0, lastError: null };
  let inFlight: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function readDb(): Promise<DbSnapshot> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      // Local to this transaction: the pooled connection keeps no setting behind.
      await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(timeoutMs)]);
      const snapshot = await readDatabase(client, scheduled);
      await client.query('COMMIT');
      return snapshot;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async function readRedis(): Promise<Map<string, Record<string, number>>> {
    const names = producer.jobNames;
    const counts = await withTimeout(Promise.all(names.map((q) => producer.queue(q).getJobCounts(...JOB_STATES))), timeoutMs, 'BullMQ job counts');
    return new Map(names.map((q, i) => [q, counts[i]!]));
  }

  async function run(): Promise<boolean> {
    const started = performance.now();
    st.lastAttemptAt = new Date().toISOString();
    const [db, redis] = await Promise.allSettled([readDb(), readRedis()]);
    const problems: string[] = [];
    const fail = (source: MonitorSource, err: unknown) => {
      m.errors.inc({ source });
      problems.push(`${source}: ${maskUrlCredentials(errorMessage(err))}`);
    };
    if (db.status === 'fulfilled') publishDatabase(m, db.value);
    else { invalidateDatabase(m); fail('database', db.reason); }
    if (redis.status === 'fulfilled') {
      m.jobCount.reset();
      for (const [queue, counts] of redis.value) for (const state of JOB_STATES) m.jobCount.set({ queue, state }, counts[state] ?? 0);
    } else { invalidateRedis(m); fail('redis', redis.reason); }
    m.refreshDuration.set((performance.now() - started) / 1000);
    if (problems.length === 0) {
      if (st.consecutiveFailures > 0) log.info({ failures: st.consecutiveFailures }, 'monitor refresh recovered');
      const now = new Date();
      m.lastSuccess.set(now.getTime() / 1000);
      Object.assign(st, { state: 'ok', lastSuccessAt: now.toISOString(), consecutiveFailures: 0, lastError: null });
      return true;
    }
    if (st.consecutiveFailures === 0) log.warn({ problems }, 'monitor refresh failed; database metrics withdrawn until it succeeds');
    Object.assign(st, { state: 'failing', consecutiveFailures: st.consecutiveFailures + 1, lastError: problems.join('; ') });
    return false;
  }

  const refresh = (): Promise<boolean> => (inFlight ??= run().finally(() => { inFlight = undefined; }));

  // setTimeout after each refresh, not setInterval: refreshes never overlap.
  const loop = async () => {
    await refresh().catch((err: unknown) => log.error({ err }, 'monitor refresh crashed'));
    if (!stopped) timer = setTimeout(() => void loop(), intervalMs).unref();
  };
  void loop();

  return {
    refresh,
    status: () => ({ ...st, state: stopped ? 'stopped' : st.state }),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await inFlight?.catch(() => {});
      await pool.end();
    },
  };
}
