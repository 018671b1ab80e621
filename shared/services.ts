import type { Config } from './config.ts';
import { createPool, type Pool } from './db.ts';
import { createLogger, type Logger } from './logger.ts';
import { producerConnection, workerConnection, type Redis } from './redis.ts';
import { resolveS3, ensureBuckets, type S3Client, type EmbeddedS3 } from './s3.ts';
import { Producer } from './queues.ts';
import type { AnyJob } from './job.ts';
import { closeAll } from './shutdown.ts';

/** The connections one process holds, made once at start and closed once at the end. */
export interface Services {
  config: Config;
  log: Logger;
  db: Pool;
  s3: S3Client;
  s3Endpoint: string;
  /** Non-blocking shared connection (locks, limiters); never used for blocking commands. */
  redis: Redis;
  producer: Producer;
  jobs: ReadonlyMap<string, AnyJob>;
  close(): Promise<void>;
}

export async function createServices(config: Config, jobs: readonly AnyJob[], opts: { log?: Logger; poolMax?: number; buckets?: boolean } = {}): Promise<Services> {
  const log = opts.log ?? createLogger(config.logLevel);
  const db = createPool(config.databaseUrl, { max: opts.poolMax ?? 10 });
  const { client: s3, endpoint: s3Endpoint, embedded } = await resolveS3(config);
  if (opts.buckets !== false) {
    await ensureBuckets(s3, [config.backupBucket, config.imageBucket, config.importBucket]);
  }
  const redis = workerConnection(config.redisUrl);
  const producerRedis = producerConnection(config.redisUrl);
  const registry = new Map(jobs.map((j) => [j.name, j]));
  const producer = new Producer(registry, producerRedis, config.queuePrefix);
  let embeddedS3: EmbeddedS3 | undefined = embedded;
  return {
    config, log, db, s3, s3Endpoint, redis, producer, jobs: registry,
    close: () => closeAll(log, [
      ['producer', () => producer.close()],
      ['producer redis', () => producerRedis.quit().then(() => undefined)],
      ['redis', () => redis.quit().then(() => undefined)],
      ['postgres pool', () => db.end()],
      ['s3 client', async () => s3.destroy()],
      ['embedded s3', async () => { await embeddedS3?.close(); embeddedS3 = undefined; }],
    ]),
  };
}
