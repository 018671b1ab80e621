import { setMaxListeners } from 'node:events';
import { Worker, WaitingError, UnrecoverableError, type Job } from 'bullmq';
import type { Services } from './services.ts';
import type { AnyJob, JobEnvelope } from './job.ts';
import { validatePayload, jobOptions } from './queues.ts';
import { AuditWriter } from './audit.ts';
import { queueStats } from './job-metrics.ts';
import { RunContext } from './run-context.ts';
import { workerConnection } from './redis.ts';
import { closeAll } from './shutdown.ts';
import { errorMessage } from './errors.ts';
import { CompletionLog } from './completion-log.ts';
import { deadline } from './deadline.ts';

/** Abort listeners one signal may carry before Node warns of a leak. */
const SIGNAL_LISTENERS = 1_000;

export interface Host {
  readonly queues: string[];
  readonly workers: readonly Worker[];
  /** Stops taking jobs, lets active ones finish within the shutdown timeout, closes workers. */
  close(): Promise<void>;
}

/** Hosts still running in this process; tests assert none is left behind. */
export const liveHosts = new Set<Host>();

function envelopeOf(data: unknown): JobEnvelope {
  // Jobs added by other tools (or raw BullMQ) carry the payload directly.
  if (data && typeof data === 'object' && 'payload' in data && 'enqueuedBy' in data) return data as JobEnvelope;
  return { payload: data, enqueuedBy: 'unknown' };
}

export interface HostOptions {
  /** How long finished runs may wait for their job_runs write (AuditWriter); tests lengthen it. */
  auditIntervalMs?: number;
}

/**
 * Runs job definitions as BullMQ workers: validates payloads, gives each handler its
 * context, and records every attempt in logs, metrics and job_runs.
 */
export async function startHost(services: Services, jobs: readonly AnyJob[], opts: HostOptions = {}): Promise<Host> {
  const { log, config } = services;
  const audit = new AuditWriter(services.db, log, opts.auditIntervalMs);
  const shutdown = new AbortController();
  // Every running job's requests listen on this one signal (an image batch alone has dozens
  // in flight); Node's default of 10 would warn of a leak that is not there.
  setMaxListeners(SIGNAL_LISTENERS, shutdown.signal);
  let shuttingDown = false;

  // Per queue: jobs running in this host, and when (epoch ms) the queue last had nothing left
  // to give, 0 while it has. Once such a queue's last running job ends, its burst is over:
  // the audit rows are written then rather than at the next interval.
  const idle = new Map<string, { running: number; drainedAt: number }>();
  const drained = (queue: string) => {
    const q = idle.get(queue)!;
    q.drainedAt = Date.now();
    if (q.running === 0) void audit.flush(false);
  };

  const processorFor = (def: AnyJob) => {
    const stats = queueStats(def.name);
    const queue = { running: 0, drainedAt: 0 };
    idle.set(def.name, queue);
    const defaultAttempts = jobOptions(def).attempts ?? 1;
    const completions = new CompletionLog(log, def.name);
    return async (job: Job, token?: string): Promise<unknown> => {
      const envelope = envelopeOf(job.data);
      const attempt = job.attemptsMade + 1;
      // Started before under this attempt: the worker running it stalled or lost its lock.
      const restarted = job.attemptsStarted > attempt;
      const t0 = Date.now();
      const run = audit.start(t0, {
        queue: def.name, jobId: job.id!, attempt, name: job.name, payload: envelope.payload, enqueuedBy: envelope.enqueuedBy, restarted,
      });
      stats.active++;
      queue.running++;
      // BullMQ says 'drained' as soon as a fetch comes back empty, while jobs it fetched
      // before may not have started yet; those were created before that moment. Only a job
      // created since means the queue is busy again. (A producer's clock running ahead
      // merely leaves the rows to the interval.)
      if (queue.drainedAt && job.timestamp >= queue.drainedAt) queue.drainedAt = 0;
      // Only a job with a time limit of its own gets a signal of its own (shared/deadline.ts).
      const limit = def.timeoutMs ? deadline(def.timeoutMs, shutdown.signal) : undefined;
      const signal = limit?.signal ?? shutdown.signal;
      if (limit) setMaxListeners(SIGNAL_LISTENERS, signal);
      const ctx = new RunContext(services, job, def.name, attempt, restarted, envelope.enqueuedBy, signal);
      try {
        const payload = validatePayload(def, envelope.payload);
        const result = await def.handler(payload, ctx);
        const t1 = Date.now();
        stats.completed++;
        audit.finish(run, t1, 'completed', { result, detail: ctx.detail });
        completions.completed(ctx, t1 - t0, t1);
        return result;
      } catch (err) {
        // Shutdown interrupted the job: hand it back to the queue untouched, no attempt spent.
        if (shuttingDown && signal.aborted && token) {
          const returned = await job.moveToWait(token).then(() => true, (e: unknown) => {
            ctx.log.warn({ err: e }, 'could not return the interrupted job to the queue; it runs again once its lock expires');
            return false;
          });
          const error = returned ? 'interrupted by shutdown; returned to the queue' : 'interrupted by shutdown; runs again once its lock expires';
          audit.finish(run, Date.now(), 'retrying', { error });
          if (returned) ctx.log.warn('job interrupted by shutdown; returned to the queue');
          throw returned ? new WaitingError() : err;
        }
        const final = err instanceof UnrecoverableError || attempt >= (job.opts.attempts ?? defaultAttempts);
        if (final) stats.failed++;
        else stats.retried++;
        audit.finish(run, Date.now(), final ? 'failed' : 'retrying', { error: errorMessage(err), detail: ctx.detail });
        ctx.log[final ? 'error' : 'warn']({ err, final }, final ? 'job failed' : 'job attempt failed; will retry');
        throw err;
      } finally {
        limit?.clear();
        stats.observeDuration((run.finishedAt || Date.now()) - t0);
        stats.active--;
        if (--queue.running === 0 && queue.drainedAt) void audit.flush(false);
      }
    };
  };

  const connections = jobs.map(() => workerConnection(config.redisUrl));
  const workers = jobs.map((def, i) => {
    const worker = new Worker(def.name, processorFor(def), {
      connection: connections[i]!,
      prefix: config.queuePrefix,
      concurrency: def.concurrency ?? 1,
      lockDuration: def.lockDurationMs ?? config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: 2,
      autorun: true,
    });
    worker.on('error', (err) => log.error({ err, queue: def.name }, 'worker error'));
    worker.on('drained', () => drained(def.name));
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ queues: jobs.map((j) => j.name) }, 'workers started');

  let closing: Promise<void> | undefined;
  const host: Host = {
    queues: jobs.map((j) => j.name),
    workers,
    close: () => (closing ??= (async () => {
      shuttingDown = true;
      // Phase 1: stop fetching and let active jobs finish on their own, up to the timeout.
      const drained = Promise.allSettled(workers.map((w) => w.close()));
      const timedOut = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), config.shutdownTimeoutMs).unref()),
      ]);
      if (timedOut) {
        // Phase 2: ask handlers to stop; interrupted jobs go back to the queue (see catch above).
        log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timeout: interrupting active jobs');
        shutdown.abort(new Error('shutdown'));
        const settled = await Promise.race([drained.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000).unref())]);
        // Phase 3: a handler that ignores its signal keeps its lock until it expires; the
        // job is then picked up again as stalled.
        if (!settled) await Promise.allSettled(workers.map((w) => w.close(true)));
      }
      await closeAll(log, [
        ['audit', () => audit.close()],
        ...connections.map((c, i): [string, () => Promise<void>] => [`redis of worker ${jobs[i]!.name}`, async () => { await c.quit(); }]),
      ]);
      liveHosts.delete(host);
    })()),
  };
  liveHosts.add(host);
  return host;
}
