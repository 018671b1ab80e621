import type { Command } from '../command.ts';
import { parse, withProducer, UsageError } from '../command.ts';
import { enqueueAndWait, renderProgress } from '../wait.ts';
import { remoteOptions, remoteFrom, enqueueRemote, REMOTE_HELP } from '../remote.ts';
import { customJobId } from '../../shared/queues.ts';

function parseData(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--data is not valid JSON: ${(err as Error).message}`);
  }
}


export const enqueueCommand: Command = {
  name: 'enqueue',
  summary: 'Add a job to its queue, optionally waiting for the result',
  help: `Usage: fleet enqueue <job> [--data '<json>'] [--wait] [--timeout <seconds>] [--job-id <id>] [--remote <url>]

Validates the payload against the job's schema, then adds the job.
  --data      the payload as JSON [{}]
  --wait      wait for the job to finish: exit 0 and print the result as one JSON line,
              last on stdout; exit 1 and print the failure reason on stderr if it fails.
              Progress is shown on a terminal.
  --timeout   with --wait, give up after this many seconds (exit 3) [no limit]
  --job-id    a custom job id; adding the same id twice adds the job once
${REMOTE_HELP}
Without --wait, prints {"job","id"} as one JSON line. Over --remote the job is recorded as
enqueued by the token's admin; --wait polls the API for its state.

Examples:
  fleet enqueue mv-refresh --wait
  fleet enqueue mv-refresh --data '{"views":["low_stock_report"]}' --wait
  FLEET_TOKEN=fleet_… fleet enqueue mv-refresh --remote https://fleet.example.com --wait`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      data: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, 'job-id': { type: 'string' }, ...remoteOptions,
    });
    const [name, ...extra] = positionals;
    if (!name) throw new UsageError('which job? (fleet enqueue <job>)');
    if (extra.length) throw new UsageError(`unexpected argument: ${extra[0]}`);
    const payload = parseData(values.data);
    // Checked here, as the API does: BullMQ's own refusal would come late, as exit 1.
    const badId = values['job-id'] === undefined ? undefined : customJobId.safeParse(values['job-id']).error?.issues[0];
    if (badId) throw new UsageError(`--job-id ${badId.message}`);
    const timeoutS = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeoutS !== undefined && !(timeoutS > 0)) throw new UsageError('--timeout must be a positive number of seconds');
    const remote = remoteFrom(values, io);
    if (remote) {
      return enqueueRemote(remote, io, {
        job: name, payload, jobId: values['job-id'], wait: values.wait, timeoutS, onProgress: (p) => renderProgress(io, p),
      });
    }

    return withProducer(io, async (producer, config) => {
      producer.job(name); // unknown job → error listing the valid ones, before touching Redis
      if (!values.wait) {
        const id = await producer.enqueue(name, payload, { enqueuedBy: 'cli', jobId: values['job-id'] });
        io.out(JSON.stringify({ job: name, id }));
        return 0;
      }
      return enqueueAndWait(io, producer, config, name, payload, { jobId: values['job-id'], timeoutS });
    });
  },
};
