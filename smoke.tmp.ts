import { fromEnv } from './shared/config.ts';
import { createServices } from './shared/services.ts';
import { startHost } from './shared/host.ts';
import { startEmbeddedS3 } from './shared/s3.ts';
import { ensureDatabase } from './shared/db.ts';
import { migrate } from './shared/migrate.ts';
import { allJobs } from './jobs/index.ts';
import { createLogger } from './shared/logger.ts';
const s3 = await startEmbeddedS3('/tmp/i7/s3', 0);
const env = { DATABASE_URL: 'postgres://127.0.0.1:5432/i7_smoke', S3_ENDPOINT: s3.endpoint, QUEUE_PREFIX: 'i7smoke', LOG_LEVEL: 'info', BACKUP_ENCRYPTION_KEY: process.env.KEY ?? '' };
const config = fromEnv(env);
await ensureDatabase(config.databaseUrl); await migrate(config.databaseUrl);
const services = await createServices(config, allJobs, { log: createLogger('info') });
await services.db.query(`INSERT INTO inventory (external_id, variant_key, title, category, unit_price, quantity) SELECT 'x'||g, '', md5(g::text), 'c', 1, 1 FROM generate_series(1,50000) g ON CONFLICT DO NOTHING`);
const host = await startHost(services, allJobs.filter(j => j.name.startsWith('backup')));
const { QueueEvents } = await import('bullmq');
for (const [name, payload] of [['backup-export', {kind:'data', tables:['inventory','public.orders']}], ['backup-export', {tables:['inventory','nope']}]] as const) {
  const ev = new QueueEvents(name, { connection: { host: '127.0.0.1', port: 6379 }, prefix: 'i7smoke' });
  await ev.waitUntilReady();
  const id = await services.producer.enqueue(name, payload);
  const job = (await services.producer.queue(name).getJob(id))!;
  try { console.log(name, JSON.stringify(await job.waitUntilFinished(ev)).slice(0, 600)); } catch (e) { console.log(name, 'FAILED', (e as Error).message); }
  await ev.close();
}
await host.close(); await services.close(); await s3.close();
