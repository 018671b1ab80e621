import { QueueEvents, Job } from 'bullmq';
import type { Io } from './command.ts';
import type { Producer } from '../shared/queues.ts';
import type { Config } from '../shared/config.ts';
import { workerConnection } from '../shared/redis.ts';

/** A progress bar on stderr, only on a terminal. */
export function renderProgress(io: Io, progress: unknown): void {
  if (!io.isTTY) return;
  let pct: number | undefined;
  let label = '';
  if (typeof progress === 'number') pct = progress;
  else if (progress && typeof progress === 'object') {
    const p = progress as { done?: number; total?: number };
    if (typeof p.done === 'number') {
      label = p.total ? `${p.done}/${p.total}` : `${p.done}`;
      if (p.total) pct = (100 * p.done) / p.total;
    }
  }
  const width = 30;
  const filled = pct === undefined ? 0 : Math.max(0, Math.min(width, Math.round((pct / 100) * width)));
  const bar = pct === undefined ? '' : `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct.toFixed(0)}% `;
  process.stderr.write(`\r\x1b[K${bar}${label}`);
}

/**
 * Enqueues a job and waits for it (`--wait`): prints the result as one JSON line, last on
 * stdout, and returns the exit code: 0 completed, 1 failed, 3 gave up after timeoutS.
 */
export async function enqueueAndWait(io: Io, producer: Producer, config: Config, name: string, payload: unknown,
  opts: { jobId?: string; timeoutS?: number } = {}): Promise<number> {
  const connection = workerConnection(config.redisUrl, { retryStrategy: () => null });
  const events = new QueueEvents(name, { connection, prefix: config.queuePrefix });
  events.on('error', () => {});
  try {
    await events.waitUntilReady();
    const id = await producer.enqueue(name, payload, { enqueuedBy: 'cli', jobId: opts.jobId });
    io.err(`enqueued ${name} job ${id}; waiting…`);
    events.on('progress', ({ jobId, data }) => { if (jobId === id) renderProgress(io, data); });
    const job = await Job.fromId(producer.queue(name), id);
    if (!job) throw new Error(`job ${id} vanished before it ran`);
    try {
      const result = await job.waitUntilFinished(events, opts.timeoutS === undefined ? undefined : opts.timeoutS * 1000);
      if (io.isTTY) process.stderr.write('\r\x1b[K');
      io.out(JSON.stringify(result ?? null));
      return 0;
    } catch (err) {
      if (io.isTTY) process.stderr.write('\r\x1b[K');
      const message = (err as Error).message;
      if (/timed out/i.test(message)) {
        io.err(`gave up waiting after ${opts.timeoutS} s; job ${id} is still queued or running`);
        return 3;
      }
      io.err(`${name} job ${id} failed: ${message}`);
      return 1;
    }
  } finally {
    await events.close().catch(() => {});
    connection.disconnect();
  }
}
