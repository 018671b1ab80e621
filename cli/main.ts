import { ConfigError } from '../shared/config.ts';
import { PayloadError } from '../shared/errors.ts';
import { UnknownJobError, quoteName } from '../shared/queues.ts';
import { maskUrlCredentials } from '../shared/redact.ts';
import { loadDotEnv } from '../shared/dotenv.ts';
import { RemoteError } from './remote.ts';
import { UsageError, type Command, type Io } from './command.ts';
import { commands } from './commands/index.ts';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `fleet — the Stockroom worker fleet's admin CLI

Usage: fleet <command> [options]     (fleet <command> --help for details)

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Configuration comes from the environment (DATABASE_URL, REDIS_URL, QUEUE_PREFIX, …; see README).`;
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return 0;
  }
  if (!name) {
    // A mistake, not a request for help: the reason and the usage go to stderr, exit 2.
    io.err(`fleet: which command? (fleet <command>)\n\n${usage()}`);
    return 2;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`fleet: unknown command ${quoteName(name)}\n\n${usage()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.out(command.help);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    // Usage errors echo what was typed, which may be a URL with a password in it: masked too.
    if (err instanceof UsageError) {
      io.err(`fleet ${name}: ${maskUrlCredentials(err.message)}\nRun "fleet ${name} --help" for usage.`);
      return 2;
    }
    // The same mistakes sent to a fleet over --remote come back as the API's refusals.
    if (err instanceof ConfigError || err instanceof PayloadError || err instanceof UnknownJobError || (err instanceof RemoteError && REFUSED_INPUT.has(err.code))) {
      io.err(`fleet ${name}: ${maskUrlCredentials(err.message)}`);
      return 2;
    }
    io.err(`fleet ${name}: ${maskUrlCredentials((err as Error).message ?? String(err))}`);
    return 1;
  }
}

/** Admin API error codes for input the fleet refused without doing anything: exit 2, as locally. */
const REFUSED_INPUT = new Set(['invalid_payload', 'unknown_job', 'invalid_request', 'invalid_json', 'payload_too_large']);

/** The process entry (bin/fleet.js): real stdio and environment. */
export function main(argv = process.argv.slice(2)): Promise<number> {
  loadDotEnv();
  return runCli(argv, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    isTTY: Boolean(process.stderr.isTTY),
    env: process.env,
  });
}
