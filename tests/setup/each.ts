import { afterEach } from 'vitest';
import { liveHosts } from '../../shared/host.ts';

// A test that leaves a worker running fails: the worker would steal jobs from later tests.
afterEach(async () => {
  const left = [...liveHosts];
  if (left.length === 0) return;
  await Promise.allSettled(left.map((h) => h.close()));
  throw new Error(`${left.length} worker host(s) left running by this test (queues: ${left.flatMap((h) => h.queues).join(', ')}); close them in the test`);
});
