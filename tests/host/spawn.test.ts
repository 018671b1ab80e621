import { describe, it, expect } from 'vitest';
import { useTestFleet, spawnWorker, runJob } from '../helpers.ts';

const fleet = useTestFleet();

describe('worker process', () => {
  it('runs a queue in its own process and exits 0 on SIGTERM', async () => {
    const worker = await spawnWorker('mv-refresh', fleet.env);
    try {
      const run = await runJob(fleet, 'mv-refresh', { views: ['low_stock_report'] });
      expect(run.state).toBe('completed');
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('shutdown complete');
  });
});
