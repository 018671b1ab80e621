import { describe, it, expect, beforeAll } from 'vitest';
import { useTestFleet, fleetCli } from '../helpers.ts';
import { commands } from '../../cli/commands/index.ts';

const fleet = useTestFleet();

// Secrets in the environment of every run: no output may show them.
const SECRETS = { db: 'pg-Secret-Cli-3e8d1', token: 'fleet_Secret-Token-77ac', kicks: 'kicks-Secret-Cli-a90f', url: 'url-Secret-5c2e' };
let env: Record<string, string>;
beforeAll(() => {
  const db = new URL(fleet.env.DATABASE_URL!);
  db.username = 'root';
  db.password = SECRETS.db; // trust auth ignores it
  // FLEET_TOKEN without FLEET_REMOTE_URL: commands still talk to Redis directly.
  env = { ...fleet.env, DATABASE_URL: db.toString(), FLEET_TOKEN: SECRETS.token, KICKSDB_API_KEY: SECRETS.kicks };
});

// Linux refuses a single argument over 128 KiB (E2BIG) before the CLI starts, so a 10 MB
// --data can never reach it; this is the largest that can.
const BIG = 120 * 1024;
const bigList = JSON.stringify({ views: Array.from({ length: BIG / 10 }, (_, i) => `view_${i}`) }).slice(0, BIG);
const bigArray = `{"views":[${Array.from({ length: 12_000 }, (_, i) => `"v${i}"`).join(',')}]}`;

interface Case {
  why: string;
  args: string[];
  env?: Record<string, string>;
  /** The CLI's documented codes: 1 the operation failed, 2 a usage or input mistake (nothing done). */
  code: 1 | 2;
  /** The one-line reason: the first line of stderr. */
  reason: RegExp;
  /** What may follow the reason: a pointer to --help (default), nothing, the command list, or this. */
  then?: 'help-pointer' | 'nothing' | 'usage' | RegExp;
}

const cases: Case[] = [
  // Commands
  { why: 'no command at all', args: [], code: 2, reason: /^fleet: which command\? \(fleet <command>\)$/, then: 'usage' },
  { why: 'unknown command', args: ['frobnicate'], code: 2, reason: /^fleet: unknown command "frobnicate"$/, then: 'usage' },
  { why: 'command with a newline and a terminal escape', args: ['stat\n\u001b[2Jus'], code: 2, reason: /^fleet: unknown command "stat\\n\\u001b\[2Jus"$/, then: 'usage' },
  { why: 'unknown subcommand', args: ['backup', 'bogus'], code: 2, reason: /^fleet backup: unknown subcommand "bogus" \(list or restore\)$/ },
  { why: 'stray argument to a command that takes none', args: ['status', 'extra'], code: 2, reason: /^fleet status: Unexpected argument 'extra'/ },

  // enqueue: the job
  { why: 'enqueue with no job', args: ['enqueue'], code: 2, reason: /^fleet enqueue: which job\? \(fleet enqueue <job>\)$/ },
  { why: 'unknown job', args: ['enqueue', 'nope'], code: 2, reason: /^fleet enqueue: Unknown job "nope"\. Valid jobs: .*mv-refresh/, then: 'nothing' },
  { why: 'job "../../etc/passwd"', args: ['enqueue', '../../etc/passwd'], code: 2, reason: /^fleet enqueue: Unknown job "\.\.\/\.\.\/etc\/passwd"\. Valid jobs: /, then: 'nothing' },
  { why: 'job with SQL metacharacters', args: ['enqueue', "mv-refresh'; DROP TABLE job_runs;--"], code: 2, reason: /^fleet enqueue: Unknown job "mv-refresh'; DROP TABLE job_runs;--"\. /, then: 'nothing' },
  { why: 'job with shell metacharacters', args: ['enqueue', '$(touch /tmp/fleet-pwned)`id`;|&>'], code: 2, reason: /^fleet enqueue: Unknown job "\$\(touch \/tmp\/fleet-pwned\)`id`;\|&>"\. /, then: 'nothing' },
  { why: 'job with a newline and a terminal escape', args: ['enqueue', 'mv-refresh\n\u001b[31mok'], code: 2, reason: /^fleet enqueue: Unknown job "mv-refresh\\n\\u001b\[31mok"\. Valid jobs: /, then: 'nothing' },
  { why: 'unicode job name (emoji, right-to-left override)', args: ['enqueue', 'mv-refresh🧨\u202e'], code: 2, reason: /^fleet enqueue: Unknown job "mv-refresh🧨\\u202e"\. /, then: 'nothing' },
  { why: 'job name of 5,000 characters', args: ['enqueue', 'j'.repeat(5_000)], code: 2, reason: /^fleet enqueue: Unknown job "j{100}…"\. Valid jobs: /, then: 'nothing' },
  { why: 'a second positional', args: ['enqueue', 'mv-refresh', 'extra'], code: 2, reason: /^fleet enqueue: unexpected argument: extra$/ },

  // enqueue: flags and --data
  { why: '--data is not JSON', args: ['enqueue', 'mv-refresh', '--data', "{views: ['low_stock_report']}"], code: 2, reason: /^fleet enqueue: --data is not valid JSON: / },
  { why: '--data of the wrong shape names the field', args: ['enqueue', 'mv-refresh', '--data', '{"views":"all"}'], code: 2, reason: /^fleet enqueue: Invalid payload for mv-refresh: views: Invalid input: expected array, received string$/, then: 'nothing' },
  { why: '--data with a misspelt field', args: ['enqueue', 'mv-refresh', '--data', '{"view":["low_stock_report"]}'], code: 2, reason: /^fleet enqueue: Invalid payload for mv-refresh: \(root\): Unrecognized key: "view"$/, then: 'nothing' },
  { why: '--data that is JSON but not an object', args: ['enqueue', 'mv-refresh', '--data', '["low_stock_report"]'], code: 2, reason: /^fleet enqueue: Invalid payload for mv-refresh: \(root\): Invalid input: expected object, received array$/, then: 'nothing' },
  { why: '--data of 120 KB, not JSON', args: ['enqueue', 'mv-refresh', '--data', bigList], code: 2, reason: /^fleet enqueue: --data is not valid JSON: / },
  { why: '--data of 120 KB, a list too long', args: ['enqueue', 'mv-refresh', '--data', bigArray], code: 2, reason: /^fleet enqueue: Invalid payload for mv-refresh: views: Too big: expected array to have <=\d+ items$/, then: 'nothing' },
  { why: 'unknown flag', args: ['enqueue', 'mv-refresh', '--bogus'], code: 2, reason: /^fleet enqueue: Unknown option '--bogus'/ },
  { why: '--data at the end, without its value', args: ['enqueue', 'mv-refresh', '--data'], code: 2, reason: /^fleet enqueue: Option '--data <value>' argument missing$/ },
  { why: '--timeout that is not a number', args: ['enqueue', 'mv-refresh', '--wait', '--timeout', 'soon'], code: 2, reason: /^fleet enqueue: --timeout must be a positive number of seconds$/ },
  { why: '--job-id all digits (BullMQ refuses it)', args: ['enqueue', 'mv-refresh', '--job-id', '123'], code: 2, reason: /^fleet enqueue: --job-id must not be all digits$/ },
  { why: '--job-id with "../" and ":"', args: ['enqueue', 'mv-refresh', '--job-id', '../a:b'], code: 2, reason: /^fleet enqueue: --job-id letters, digits, "\.", "_" or "-" only$/ },
  { why: '--remote that is not a URL, with a password in it', args: ['enqueue', 'mv-refresh', '--remote', `http://admin:${SECRETS.url}@[fleet`], code: 2, reason: /^fleet enqueue: --remote \/ FLEET_REMOTE_URL is not a valid URL: http:\/\/admin:\*\*\*@\[fleet$/ },
  { why: '--token without --remote', args: ['enqueue', 'mv-refresh', '--token', SECRETS.token], code: 2, reason: /^fleet enqueue: --token needs --remote \(or FLEET_REMOTE_URL\)$/ },

  // failed / retry
  { why: 'failed with an unknown queue', args: ['failed', 'nope'], code: 2, reason: /^fleet failed: Unknown job "nope"\. Valid jobs: .*mv-refresh/, then: 'nothing' },
  { why: 'failed --limit 0', args: ['failed', 'mv-refresh', '--limit', '0'], code: 2, reason: /^fleet failed: --limit must be an integer from 1 to 10000$/ },
  { why: 'retry <queue> with neither id nor --all', args: ['retry', 'mv-refresh'], code: 2, reason: /^fleet retry: name a job id, or --all$/ },
  { why: 'retry with both an id and --all', args: ['retry', 'mv-refresh', '1', '--all'], code: 2, reason: /^fleet retry: give a job id or --all, not both$/ },
  { why: 'retry in an unknown queue', args: ['retry', '../../etc', '--all'], code: 2, reason: /^fleet retry: Unknown job "\.\.\/\.\.\/etc"\. /, then: 'nothing' },
  { why: 'retry of a job that does not exist', args: ['retry', 'mv-refresh', 'no-such-job'], code: 1, reason: /^no job no-such-job in mv-refresh$/, then: 'nothing' },

  // Other commands' input
  { why: 'import of a file that does not exist', args: ['import', '/nonexistent/../etc/orders.json'], code: 2, reason: /^fleet import: \/nonexistent\/\.\.\/etc\/orders\.json does not exist$/ },
  { why: 'admin create-token without --name', args: ['admin', 'create-token'], code: 2, reason: /^fleet admin: --name <admin> is required$/ },

  // Bad configuration
  { why: 'DATABASE_URL that is not a URL, with a password', args: ['status'], env: { DATABASE_URL: `postgres://root:${SECRETS.db}@[db/fleet` }, code: 2, reason: /^fleet status: Invalid configuration:$/, then: /^ {2}- DATABASE_URL is not a valid URL$/ },
];

/** Runs at most `n` at once: each run is a node process, and the machine has two cores. */
function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
const limit = limiter(4);

async function queueCounts() {
  const { producer } = fleet.services;
  return Object.fromEntries(await Promise.all(producer.jobNames.map(async (n) => [n, await producer.queue(n).getJobCounts()] as const)));
}

function expectNoSecret(text: string) {
  for (const s of Object.values(SECRETS)) expect(text).not.toContain(s);
}

const STACK = /^\s+at .+[:(]\d+|node:internal|\bError: |\w+Error\b.*\n\s+at /m;

describe('bad command lines for the fleet CLI', () => {
  it('covers at least the catalogue the issue asks for', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
    expect(new Set(cases.map((c) => c.why)).size).toBe(cases.length);
  });

  it.concurrent.each(cases)('$why → exit $code', async (c) => {
    const before = await queueCounts();
    const r = await limit(() => fleetCli(c.args, { ...env, ...c.env }));

    expect(r.code, r.stderr).toBe(c.code);
    expect(r.stdout).toBe('');
    const [reason, ...rest] = r.stderr.replace(/\n$/, '').split('\n');
    expect(reason).toMatch(c.reason);
    expect(reason!.length).toBeLessThan(400); // one line a human reads, however long the input
    const then = rest.join('\n');
    if (c.then instanceof RegExp) expect(then).toMatch(c.then);
    else if (c.then === 'usage') expect(then).toMatch(/^\nfleet — the Stockroom worker fleet's admin CLI\n\nUsage: fleet <command>/);
    else if (c.then === 'nothing') expect(then).toBe('');
    else expect(then).toBe(`Run "fleet ${c.args[0]} --help" for usage.`);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toMatch(/\u001b/); // no raw terminal escape from the input

    expectNoSecret(r.stdout + r.stderr);
    expect(await queueCounts()).toEqual(before);
  });

  it.concurrent.each([
    { why: 'top-level --help', args: ['--help'], usage: /^fleet — the Stockroom worker fleet's admin CLI\n\nUsage: fleet <command>/ },
    { why: 'fleet help', args: ['help'], usage: /^fleet — the Stockroom worker fleet's admin CLI/ },
    ...commands.map((cmd) => ({ why: `${cmd.name} --help`, args: [cmd.name, '--help'], usage: new RegExp(`^Usage: fleet ${cmd.name}\\b`) })),
    // Help wins over anything else on the line, even mistakes.
    { why: '-h after a bad flag', args: ['enqueue', 'nope', '--bogus', '-h'], usage: /^Usage: fleet enqueue\b/ },
  ])('$why prints help and exits 0', async ({ args, usage }) => {
    const r = await limit(() => fleetCli(args, env));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(usage);
    expect(r.stderr).toBe('');
    expectNoSecret(r.stdout);
  });

  it('the queue check can see a change: a good command line enqueues', async () => {
    const before = await queueCounts();
    const r = await fleetCli(['enqueue', 'mv-refresh', '--job-id', 'bad-input-control'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ job: 'mv-refresh', id: 'bad-input-control' });
    expect((await queueCounts())['mv-refresh']!.waiting).toBe(before['mv-refresh']!.waiting! + 1);
    await fleet.services.producer.queue('mv-refresh').remove('bad-input-control');
  });
});
