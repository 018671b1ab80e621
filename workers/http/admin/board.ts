import { AsyncLocalStorage } from 'node:async_hooks';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Producer } from '../../../shared/queues.ts';
import type { JobEnvelope } from '../../../shared/job.ts';

/** The admin behind the current bull-board request (set by the session hook). */
export const boardAdmin = new AsyncLocalStorage<string>();

function isEnvelope(data: unknown): data is JobEnvelope {
  return !!data && typeof data === 'object' && 'payload' in data && 'enqueuedBy' in data;
}

/**
 * bull-board's "add job" and "duplicate" go through the fleet's Producer like every other
 * way in: the payload is validated against the job's schema, and job_runs records which
 * admin added it. Everything else is bull-board's own BullMQ adapter.
 */
class FleetQueueAdapter extends BullMQAdapter {
  constructor(private readonly producer: Producer, private readonly jobName: string) {
    super(producer.queue(jobName), { description: producer.job(jobName).description });
  }

  override async addJob(_name: string, data: unknown, options: Parameters<BullMQAdapter['addJob']>[2]) {
    const id = await this.producer.enqueue(this.jobName, isEnvelope(data) ? data.payload : data, {
      enqueuedBy: `admin:${boardAdmin.getStore() ?? 'web-ui'}`, delay: options?.delay,
    });
    const job = await this.producer.queue(this.jobName).getJob(id);
    if (!job) throw new Error(`job ${id} vanished right after it was added`);
    return job;
  }
}

/** bull-board for every queue of the fleet, as a Fastify plugin mounted at basePath. */
export function boardPlugin(producer: Producer, basePath: string, statusPath: string) {
  const board = new FastifyAdapter();
  board.setBasePath(basePath);
  createBullBoard({
    queues: producer.jobNames.map((name) => new FleetQueueAdapter(producer, name)),
    // @bull-board/fastify pins its own copy of @bull-board/api; the adapter contract is the same.
    serverAdapter: board as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: {
      uiConfig: {
        boardTitle: 'Stockroom fleet', hideDocsLink: true,
        miscLinks: [{ text: 'Status', url: statusPath }, { text: 'Log out', url: `${statusPath}/logout` }],
      },
    },
  });
  return board.registerPlugin();
}
