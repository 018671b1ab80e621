import type { FastifyInstance } from 'fastify';
import type { Job } from 'bullmq';
import type { Services } from '../../../shared/services.ts';
import type { JobEnvelope } from '../../../shared/job.ts';
import { redact } from '../../../shared/redact.ts';
import { listSchedules, runScheduleNow } from '../../schedules/status.ts';
import { ApiError, parseOr400 } from './errors.ts';
import { enqueueBody, jobParams, queueParams, scheduleParams, runsQuery } from './schemas.ts';
import { listRuns } from './runs.ts';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;
const iso = (ms: number | undefined | null) => (ms ? new Date(ms).toISOString() : null);

async function jobView(queue: string, read: Job, reread: () => Promise<Job | undefined>) {
  // A copy read before the job finished would report "completed" with no result: when the
  // state is final but the copy is not, read the job again.
  const state = await read.getState();
  const job = (state === 'completed' || state === 'failed') && !read.finishedOn ? (await reread()) ?? read : read;
  const data = job.data as Partial<JobEnvelope> | undefined;
  const enveloped = data && typeof data === 'object' && 'payload' in data;
  return {
    job: queue, id: job.id!, name: job.name, state, progress: job.progress ?? 0, attemptsMade: job.attemptsMade,
    enqueuedBy: enveloped ? (data.enqueuedBy ?? null) : null,
    payload: redact(enveloped ? data.payload : data), result: job.returnvalue ?? null, failedReason: job.failedReason || null,
    createdAt: iso(job.timestamp), processedAt: iso(job.processedOn), finishedAt: iso(job.finishedOn),
  };
}

/** The admin API routes; the caller has already authenticated (request.admin). */
export async function apiRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { producer, log } = services;
  const who = (admin: { name: string } | null) => `admin:${admin?.name ?? 'unknown'}`;

  const findJob = async (params: unknown) => {
    const p = parseOr400(jobParams, params, 'params');
    const job = await producer.queue(p.job).getJob(p.id);
    if (!job) throw new ApiError(404, 'not_found', `No job ${p.id} in queue ${p.job}`);
    return { queue: p.job, job, reread: () => producer.queue(p.job).getJob(p.id) };
  };

  app.post('/jobs/:job', { bodyLimit: 256 * 1024 }, async (request, reply) => {
    const { job } = parseOr400(jobParams.pick({ job: true }), request.params, 'params');
    const body = parseOr400(enqueueBody, request.body, 'body');
    const id = await producer.enqueue(job, body.payload ?? {}, {
      enqueuedBy: who(request.admin), jobId: body.jobId, delay: body.delayMs, priority: body.priority,
    });
    log.info({ admin: request.admin?.name, job, id }, 'job enqueued over the admin API');
    return reply.code(202).send({ job, id });
  });

  app.get('/jobs/:job/:id', async (request) => {
    const { queue, job, reread } = await findJob(request.params);
    return jobView(queue, job, reread);
  });

  app.post('/jobs/:job/:id/retry', async (request) => {
    const { queue, job, reread } = await findJob(request.params);
    const state = await job.getState();
    if (state !== 'failed') throw new ApiError(409, 'conflict', `Job ${job.id} is ${state}; only failed jobs can be retried`);
    await job.retry('failed');
    log.info({ admin: request.admin?.name, queue, id: job.id }, 'job retried over the admin API');
    return jobView(queue, job, reread);
  });

  app.delete('/jobs/:job/:id', async (request, reply) => {
    const { queue, job } = await findJob(request.params);
    try {
      await job.remove();
    } catch (err) {
      // An active (locked) job, or a schedule's pending run, cannot be removed on its own.
      throw new ApiError(409, 'conflict', `Job ${job.id} cannot be removed: ${(err as Error).message}`);
    }
    log.info({ admin: request.admin?.name, queue, id: job.id }, 'job removed over the admin API');
    return reply.code(204).send();
  });

  app.get('/queues', async () => ({
    queues: await Promise.all(producer.jobNames.map(async (name) => {
      const q = producer.queue(name);
      const [counts, paused, schedulers, globalConcurrency] = await Promise.all([
        q.getJobCounts(...STATES), q.isPaused(), q.getJobSchedulers(0, -1, true), q.getGlobalConcurrency(),
      ]);
      return {
        queue: name, paused, counts, globalConcurrency: globalConcurrency ?? null,
        schedules: schedulers.map((s) => ({ name: s.key, pattern: s.pattern ?? null, next: iso(s.next) })),
      };
    })),
  }));

  for (const action of ['pause', 'resume'] as const) {
    app.post(`/queues/:queue/${action}`, async (request) => {
      const { queue } = parseOr400(queueParams, request.params, 'params');
      const q = producer.queue(queue);
      await (action === 'pause' ? q.pause() : q.resume());
      log.info({ admin: request.admin?.name, queue }, `queue ${action}d over the admin API`);
      return { queue, paused: await q.isPaused() };
    });
  }

  app.get('/schedules', async () => ({ schedules: await listSchedules(producer, services.db) }));

  app.post('/schedules/:name/run', async (request, reply) => {
    const { name } = parseOr400(scheduleParams, request.params, 'params');
    const run = await runScheduleNow(producer, name, who(request.admin));
    log.info({ admin: request.admin?.name, ...run }, 'schedule run now over the admin API');
    return reply.code(202).send(run);
  });

  app.get('/runs', async (request) => listRuns(services.db, parseOr400(runsQuery, request.query, 'query')));
}
