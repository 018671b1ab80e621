// Child process of the backup benchmark, so the job's memory is measured on its own: runs
// one backup-export through the fleet's host, then restores that backup from S3 into an
// empty database the way `fleet backup restore` does. Prints one JSON line with timings
// and RSS samples. Configured entirely by the environment the parent passes.
import { QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { fromEnv } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createServices } from '../shared/services.ts';
import { startHost } from '../shared/host.ts';
import backupExport from '../jobs/backup/backup-export.ts';
import { readManifest } from '../jobs/backup/manifest.ts';
import { restoreBackup } from '../jobs/backup/restore.ts';
import type { AnyJob } from '../shared/job.ts';
import { workerConnection } from '../shared/redis.ts';

const config = fromEnv(process.env);
/** Also restore the backup into this (empty) database when set. */
const restoreUrl = process.env.BENCH_RESTORE_URL;
const log = createLogger('warn', pino.destination({ dest: 2, sync: false }));
const services = await createServices(config, [backupExport as AnyJob], { log });
const mb = () => process.memoryUsage().rss / 2 ** 20;
const samples: number[] = [];
const sampler = setInterval(() => samples.push(mb()), 100);
// Peak of each half of the phase too: equal halves mean memory plateaued instead of growing with the dump.
const phase = () => {
  const s = samples.splice(0);
  const half = Math.floor(s.length / 2);
  return { min: Math.min(...s), max: Math.max(...s), firstHalfMax: Math.max(...s.slice(0, half)), secondHalfMax: Math.max(...s.slice(half)), n: s.length };
};

const idleRssMb = mb();
const host = await startHost(services, [backupExport as AnyJob]);
const eventsRedis = workerConnection(config.redisUrl);
const events = new QueueEvents('backup-export', { connection: eventsRedis, prefix: config.queuePrefix });
await events.waitUntilReady();
samples.length = 0;
const cpu0 = process.cpuUsage();
let t = performance.now();
const id = await services.producer.enqueue('backup-export', {}, { enqueuedBy: 'bench' });
const job = (await services.producer.queue('backup-export').getJob(id))!;
const result = await job.waitUntilFinished(events) as { backupId: string; bytes: number; durationMs: number; tables: Record<string, number> };
const exportMs = performance.now() - t;
const exportRss = phase();
const exportCpu = process.cpuUsage(cpu0);
await host.close();
await events.close();
eventsRedis.disconnect();

let restore;
if (restoreUrl) {
  const manifest = await readManifest(services.s3, config.backupBucket, result.backupId);
  t = performance.now();
  const outcome = await restoreBackup({ s3: services.s3, bucket: config.backupBucket, manifest, targetUrl: restoreUrl, pgBinDir: config.pgBinDir });
  restore = { ms: performance.now() - t, checkMs: outcome.checkMs, pgRestoreMs: outcome.restoreMs, rss: phase() };
}
clearInterval(sampler);
await services.close();
process.stdout.write(`${JSON.stringify({
  exportMs, jobDurationMs: result.durationMs, bytes: result.bytes, rows: Object.values(result.tables).reduce((a, b) => a + b, 0),
  exportCpuMs: (exportCpu.user + exportCpu.system) / 1000, restore, idleRssMb, exportRss, maxRssMb: process.resourceUsage().maxRSS / 1024,
})}\n`);
