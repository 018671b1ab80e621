import { describe, it, expect } from 'vitest';
import { useTestFleet, fleetCli as runFleetCli } from '../helpers.ts';
import mvRefresh from '../../jobs/mv-refresh/index.ts';

const fleet = useTestFleet();
const fleetCli = (args: string[], env: Record<string, string> = fleet.env) => runFleetCli(args, env);


const lastLine = (s: string) => s.trim().split('\n').at(-1)!;

describe('fleet enqueue', () => {
  it('--wait exits 0 and prints the result as the last stdout line', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const r = await fleetCli(['enqueue', 'mv-refresh', '--data', '{"views":["low_stock_report"]}', '--wait']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(lastLine(r.stdout))).toEqual({ refreshed: [{ view: 'low_stock_report', ms: expect.any(Number), concurrently: expect.any(Boolean) }] });
    } finally {
      await host.close();
    }
  });

  it('--wait exits non-zero with the reason on stderr when the job fails, without retrying', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      const r = await fleetCli(['enqueue', 'mv-refresh', '--data', '{"views":["nope"]}', '--wait']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/failed: Unknown materialized view: nope\. Valid views: daily_sales_summary, inventory_category_summary, low_stock_report/);
      expect(r.stdout).toBe('');
      const failed = await fleet.services.producer.queue('mv-refresh').getFailed();
      expect(failed.at(0)?.attemptsMade).toBe(1);
    } finally {
      await host.close();
    }
  });

  it('without --wait prints the job id; the job waits for a worker', async () => {
    const r = await fleetCli(['enqueue', 'mv-refresh']);
    expect(r.code, r.stderr).toBe(0);
    const { job, id } = JSON.parse(lastLine(r.stdout));
    expect(job).toBe('mv-refresh');
    const queued = await fleet.services.producer.queue('mv-refresh').getJob(id);
    expect(await queued!.getState()).toBe('waiting');
    expect(queued!.data).toEqual({ payload: { lockTimeoutMs: 10_000 }, enqueuedBy: 'cli' });
    await queued!.remove();
  });

  it('rejects bad input before touching the queue, with exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['enqueue', 'nope'], /Unknown job "nope"\. Valid jobs: .*mv-refresh/],
      [['enqueue', 'mv-refresh', '--data', '{"views":'], /--data is not valid JSON/],
      [['enqueue', 'mv-refresh', '--data', '{"views":"all"}'], /Invalid payload for mv-refresh: views:/],
      [['enqueue'], /which job\?/],
      [['enqueue', 'mv-refresh', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const r = await fleetCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(await fleet.services.producer.queue('mv-refresh').getJobCounts('waiting')).toEqual({ waiting: 0 });
  });

  it('prints help for every command', async () => {
    const top = await fleetCli(['--help']);
    expect(top.code).toBe(0);
    for (const name of ['migrate', 'enqueue', 'status', 'failed', 'retry']) {
      expect(top.stdout).toContain(name);
      const r = await fleetCli([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Usage: fleet ${name}`));
    }
  });

  it('fails fast and clearly when Redis is unreachable', async () => {
    const r = await fleetCli(['enqueue', 'mv-refresh'], { ...fleet.env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot reach Redis at REDIS_URL/);
  });

  it('status lists every queue; failed and retry work on failed jobs', async () => {
    const host = await fleet.startWorkers([mvRefresh]);
    try {
      await fleetCli(['enqueue', 'mv-refresh', '--data', '{"views":["nope"]}', '--wait']);
      const status = await fleetCli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      const rows = JSON.parse(status.stdout) as { queue: string; counts: Record<string, number> }[];
      expect(rows.find((r) => r.queue === 'mv-refresh')!.counts.failed).toBeGreaterThanOrEqual(1);
      const failed = await fleetCli(['failed', 'mv-refresh', '--json']);
      const list = JSON.parse(failed.stdout) as { id: string; reason: string }[];
      expect(list[0]!.reason).toMatch(/Unknown materialized view/);
      const retry = await fleetCli(['retry', 'mv-refresh', list[0]!.id]);
      expect(retry.code, retry.stderr).toBe(0);
      expect(retry.stdout).toMatch(/retried mv-refresh job/);
    } finally {
      await host.close();
    }
  });
});
