import type { Command } from '../command.ts';
import { parse, withProducer, UsageError } from '../command.ts';
import { remoteOptions, remoteFrom, api, REMOTE_HELP } from '../remote.ts';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

interface StatusRow {
  queue: string;
  paused: boolean;
  counts: Record<string, number>;
  schedules: { name: string; pattern: string | null; next: string | null }[];
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Job counts per queue and state, and the next scheduled runs',
  help: `Usage: fleet status [--json] [--remote <url>]

Prints, for every queue, how many jobs are in each state, whether the queue is paused,
and the next run of each of its schedules.
  --json   one JSON document instead of a table
${REMOTE_HELP}`,
  async run(args, io) {
    const { values } = parse(args, { json: { type: 'boolean' }, ...remoteOptions }, false);
    const remote = remoteFrom(values, io);
    const rows = remote
      ? (await api<{ queues: StatusRow[] }>(remote, 'GET', '/api/queues')).queues
      : await withProducer(io, async (producer) => {
        const out: StatusRow[] = [];
        for (const name of producer.jobNames) {
          const queue = producer.queue(name);
          const [counts, paused, schedulers] = await Promise.all([
            queue.getJobCounts(...STATES), queue.isPaused(), queue.getJobSchedulers(0, -1, true),
          ]);
          out.push({
            queue: name, paused, counts,
            schedules: schedulers.map((s) => ({ name: s.key, pattern: s.pattern ?? null, next: s.next ? new Date(s.next).toISOString() : null })),
          });
        }
        return out;
      });
    if (values.json) {
      io.out(JSON.stringify(rows, null, 2));
      return 0;
    }
    const head = ['queue', 'waiting', 'active', 'delayed', 'completed', 'failed', 'next run'];
    const table = rows.map((r) => [
      r.queue + (r.paused ? ' (paused)' : ''), String(r.counts.waiting ?? 0), String(r.counts.active ?? 0), String(r.counts.delayed ?? 0),
      String(r.counts.completed ?? 0), String(r.counts.failed ?? 0),
      r.schedules.map((s) => s.next ?? '-').sort()[0] ?? '-',
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    for (const row of [head, ...table]) io.out(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
    return 0;
  },
};

export const failedCommand: Command = {
  name: 'failed',
  summary: 'List the failed jobs of a queue with their reasons',
  help: `Usage: fleet failed <queue> [--limit N] [--json]

Lists failed jobs, newest first: id, attempts, when it failed, and why.
  --limit   how many [20]
  --json    one JSON document instead of lines`,
  async run(args, io) {
    const { values, positionals } = parse(args, { limit: { type: 'string' }, json: { type: 'boolean' } });
    const [name] = positionals;
    if (!name) throw new UsageError('which queue? (fleet failed <queue>)');
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be an integer from 1 to 10000');
    return withProducer(io, async (producer) => {
      const jobs = await producer.queue(name).getFailed(0, limit - 1);
      const rows = jobs.map((j) => ({
        id: j.id, attempts: j.attemptsMade, failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null, reason: j.failedReason,
      }));
      if (values.json) io.out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) io.out(`no failed jobs in ${name}`);
      else for (const r of rows) io.out(`${r.id}  attempts=${r.attempts}  ${r.failedAt ?? ''}  ${r.reason}`);
      return 0;
    });
  },
};

export const retryCommand: Command = {
  name: 'retry',
  summary: 'Retry one failed job, or all failed jobs of a queue',
  help: `Usage: fleet retry <queue> <jobId>
       fleet retry <queue> --all

Moves failed jobs back to waiting; they run again with a fresh set of attempts.`,
  async run(args, io) {
    const { values, positionals } = parse(args, { all: { type: 'boolean' } });
    const [name, jobId] = positionals;
    if (!name) throw new UsageError('which queue? (fleet retry <queue> <jobId|--all>)');
    if (!jobId && !values.all) throw new UsageError('name a job id, or --all');
    if (jobId && values.all) throw new UsageError('give a job id or --all, not both');
    return withProducer(io, async (producer) => {
      const queue = producer.queue(name);
      if (values.all) {
        const count = (await queue.getJobCounts('failed')).failed ?? 0;
        await queue.retryJobs({ state: 'failed', count: 1000 });
        io.out(`retried ${count} failed job(s) in ${name}`);
        return 0;
      }
      const job = await queue.getJob(jobId!);
      if (!job) {
        io.err(`no job ${jobId} in ${name}`);
        return 1;
      }
      const state = await job.getState();
      if (state !== 'failed') {
        io.err(`job ${jobId} is ${state}, not failed; only failed jobs can be retried`);
        return 1;
      }
      await job.retry('failed');
      io.out(`retried ${name} job ${jobId}`);
      return 0;
    });
  },
};
