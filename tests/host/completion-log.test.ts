import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CompletionLog } from '../../shared/completion-log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
  return { log, lines };
}

describe('"job completed" lines', () => {
  it('writes one per job while calm, then one summary per second with the count and the slowest job', async () => {
    const { log, lines } = capture();
    const c = new CompletionLog(log, 'q');
    const t0 = 1_000_000;
    for (let i = 0; i < 500; i++) c.completed({ bindings: { queue: 'q', jobId: String(i), attempt: 1 } }, i === 300 ? 42.4 : 1, t0 + i);
    expect(lines.filter((l) => l.msg === 'job completed')).toHaveLength(20);
    expect(lines[0]).toMatchObject({ queue: 'q', jobId: '0', attempt: 1, ms: 1 });
    // The next second: the summary of the first, then per-job lines again.
    c.completed({ bindings: { queue: 'q', jobId: 'late', attempt: 1 } }, 5, t0 + 1_000);
    const summary = lines.find((l) => String(l.msg).startsWith('jobs completed'));
    expect(summary).toMatchObject({ queue: 'q', completed: 480, slowestMs: 42 });
    expect(lines.at(-1)).toMatchObject({ msg: 'job completed', jobId: 'late' });
  });

  it('writes the summary when the second is over even if no job follows', async () => {
    const { log, lines } = capture();
    const c = new CompletionLog(log, 'q');
    const now = Date.now();
    for (let i = 0; i < 25; i++) c.completed({ bindings: { queue: 'q', jobId: String(i), attempt: 1 } }, 1, now);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(lines.find((l) => String(l.msg).startsWith('jobs completed'))).toMatchObject({ completed: 5 });
  });
});
