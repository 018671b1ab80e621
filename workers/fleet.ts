import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { fromEnv, ConfigError, type Config } from '../shared/config.ts';
import { createLogger, type Logger } from '../shared/logger.ts';
import { ensureDatabase } from '../shared/db.ts';
import { migrate } from '../shared/migrate.ts';
import { createServices, type Services } from '../shared/services.ts';
import { startHost, type Host } from '../shared/host.ts';
import { startDefaultMetrics } from '../shared/metrics.ts';
import { closeAll, onShutdownSignals } from '../shared/shutdown.ts';
import type { AnyJob } from '../shared/job.ts';
import { allJobs } from '../jobs/index.ts';
import { loadDotEnv } from '../shared/dotenv.ts';
import { startHttp } from './http/server.ts';
import { reconcileSchedules, resolveSchedules } from './scheduler.ts';
import { startMonitor, type Monitor } from './monitor/monitor.ts';

export interface FleetOptions {
  /** Jobs this process works on; every job of the fleet stays known for enqueueing. */
  run: readonly AnyJob[];
  scheduler?: boolean;
  migrate?: boolean;
  httpPlugins?: FastifyPluginAsync<{ services: Services }>[];
  /** Runs the database monitor (one per fleet: the HTTP-serving admin process). */
  monitor?: boolean;
  config?: Config;
  log?: Logger;
}

export interface Fleet { services: Services; host: Host; http: FastifyInstance; monitor?: Monitor; stop(): Promise<void> }

/** Starts one fleet process: migrations (optional), workers, HTTP, and the scheduler. */
export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const config = opts.config ?? fromEnv(process.env);
  const log = opts.log ?? createLogger(config.logLevel);
  // Schedules are checked before anything connects: a bad one stops the start, named.
  const schedules = opts.scheduler ? resolveSchedules(allJobs, config) : undefined;
  if (opts.migrate) {
    if (await ensureDatabase(config.databaseUrl)) log.info('database created');
    await migrate(config.databaseUrl, log);
  }
  startDefaultMetrics();
  const services = await createServices(config, allJobs, { log });
  let host: Host | undefined;
  let http: FastifyInstance | undefined;
  const monitor = opts.monitor ? startMonitor(services, { schedules: (schedules ?? resolveSchedules(allJobs, config)).entries }) : undefined;
  try {
    // Before the workers: a replaced schedule must drop its stale due job before a worker takes it.
    if (schedules) await reconcileSchedules(services, schedules);
    host = await startHost(services, opts.run);
    http = await startHttp(services, opts.httpPlugins, undefined, monitor);
  } catch (err) {
    await closeAll(log, [
      ['monitor', async () => { await monitor?.stop(); }],
      ['http', async () => { await http?.close(); }],
      ['workers', async () => { await host?.close(); }],
      ['services', () => services.close()],
    ]).catch(() => {});
    throw err;
  }
  const h = host, server = http;
  return {
    services, host: h, http: server, monitor,
    stop: () => closeAll(log, [
      ['monitor', async () => { await monitor?.stop(); }],
      ['workers', () => h.close()],
      ['http', () => server.close()],
      ['services', () => services.close()],
    ]),
  };
}

/** Entry-point wrapper: a config error prints its message and exits 1, without a stack. */
export async function main(opts: Omit<FleetOptions, 'config' | 'log'>): Promise<void> {
  let config: Config;
  loadDotEnv();
  try {
    config = fromEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  try {
    const fleet = await startFleet({ ...opts, config, log });
    onShutdownSignals(log, () => fleet.stop());
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    log.fatal({ err }, 'fleet failed to start');
    process.exitCode = 1;
  }
}
