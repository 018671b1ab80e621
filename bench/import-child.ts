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
import { backendCpuSeconds } from './lib-cpu.ts';

const file = process.env.BENCH_IMPORT_FILE;
if (!file) throw new Error('BENCH_IMPORT_FILE is not set');
const config = fromEnv(process.env);
const services = await createServices(config, allJobs, { log: createLogger(config.logLevel), buckets: false });
const host = await startHost(services, [inventoryImport]);
try {
  const cpuAtStart = process.cpuUsage(); // the job's own CPU, not the process start-up's
  const id = await services.producer.enqueue('inventory-import', { source: { path: file } }, { enqueuedBy: 'bench' });
  const job = await new Promise<Job>((resolve, reject) => {
    host.workers[0]!.on('completed', (j) => { if (j.id === id) resolve(j); });
    host.workers[0]!.on('failed', (j, err) => { if (j?.id === id) reject(err); });
  });
  const cpu = process.cpuUsage(cpuAtStart);
  // The import ran on one pooled connection: the busiest backend of this database is its.
  const { rows } = await services.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  const dbCpu = Math.max(0, ...rows.map((r) => backendCpuSeconds(r.pid) ?? 0));
  process.stdout.write(`${JSON.stringify({
    ms: job.finishedOn! - job.processedOn!,
    result: { ...job.returnvalue, errors: undefined },
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    cpuS: (cpu.user + cpu.system) / 1e6,
    dbCpuS: rows.length ? dbCpu : null,
  })}\n`);
} finally {
  await host.close();
  await services.close();
}
