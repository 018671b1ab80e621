// Child process of the import benchmark: a worker host for inventory-import alone, one job,
// then its numbers as one JSON line on stdout. A process of its own, so that its peak RSS
// is the job's (plus the worker's fixed cost), not the benchmark's.
import { fromEnv } from '../shared/config.ts';
import { createServices } from '../shared/services.ts';
import { startHost } from '../shared/host.ts';
import { createLogger } from '../shared/logger.ts';
import { allJobs } from '../jobs/index.ts';
import inventoryImport from '../jobs/inventory-import/index.ts';
import type { Job } from 'bullmq';

const file = process.env.BENCH_IMPORT_FILE;
if (!file) throw new Error('BENCH_IMPORT_FILE is not set');
const config = fromEnv(process.env);
const services = await createServices(config, allJobs, { log: createLogger(config.logLevel), buckets: false });
const host = await startHost(services, [inventoryImport]);
try {
  const id = await services.producer.enqueue('inventory-import', { source: { path: file } }, { enqueuedBy: 'bench' });
  const job = await new Promise<Job>((resolve, reject) => {
    host.workers[0]!.on('completed', (j) => { if (j.id === id) resolve(j); });
    host.workers[0]!.on('failed', (j, err) => { if (j?.id === id) reject(err); });
  });
  process.stdout.write(`${JSON.stringify({
    ms: job.finishedOn! - job.processedOn!,
    result: { ...job.returnvalue, errors: undefined },
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  })}\n`);
} finally {
  await host.close();
  await services.close();
}
