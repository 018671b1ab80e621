import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { deadline } from '../../shared/deadline.ts';

// The time limit every outbound request and job uses. It must fire even when nothing but the
// request holds its signal and the garbage collector runs meanwhile: on Node 20,
// AbortSignal.any([parent, AbortSignal.timeout(ms)]) loses its timeout then, and a server that
// trickles its answer held a kicksdb-sync job forever.

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let server: http.Server;
let url: string;
beforeAll(async () => {
  // Answers at once, then sends one byte every 50 ms, never finishing.
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"data":[');
    const t = setInterval(() => res.write(' '), 50);
    res.on('close', () => clearInterval(t));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function readAll(res: Response): Promise<void> {
  const reader = res.body!.getReader();
  while (!(await reader.read()).done);
}

describe('deadline', () => {
  it('ends a request whose answer trickles forever, with the garbage collector running meanwhile', async () => {
    const parent = new AbortController();
    const collect = setInterval(gc, 20);
    const t = Date.now();
    try {
      for (let i = 0; i < 3; i++) {
        const limit = deadline(200, parent.signal);
        const outcome = fetch(url, { signal: limit.signal }).then(readAll).then(() => 'finished', (err: Error) => err.name);
        const stuck = new Promise((r) => setTimeout(() => r('still waiting after 3 s'), 3_000).unref());
        expect(await Promise.race([outcome, stuck])).toBe('TimeoutError');
        expect(limit.timedOut).toBe(true);
      }
    } finally {
      clearInterval(collect);
    }
    expect(Date.now() - t).toBeLessThan(3 * 1_500);
  });

  it("aborts with the parent's reason when the parent aborts first, and is not a timeout then", async () => {
    const parent = new AbortController();
    const limit = deadline(10_000, parent.signal);
    parent.abort(new Error('shutdown'));
    expect(limit.signal.aborted).toBe(true);
    expect((limit.signal.reason as Error).message).toBe('shutdown');
    expect(limit.timedOut).toBe(false);

    const late = deadline(10_000, parent.signal); // the parent had aborted already
    expect(late.signal.aborted).toBe(true);
  });

  it('after clear() neither the time nor the parent aborts it', async () => {
    const parent = new AbortController();
    const limit = deadline(30, parent.signal);
    limit.clear();
    await new Promise((r) => setTimeout(r, 80));
    parent.abort();
    expect(limit.signal.aborted).toBe(false);
    expect(limit.timedOut).toBe(false);
  });

  it('works without a parent', async () => {
    const limit = deadline(20);
    await new Promise((r) => limit.signal.addEventListener('abort', r));
    expect((limit.signal.reason as Error).name).toBe('TimeoutError');
  });
});
