import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fromEnv, type Config } from '../shared/config.ts';
import { producerConnection, type Redis } from '../shared/redis.ts';
import { Producer } from '../shared/queues.ts';
import { allJobs } from '../jobs/index.ts';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  isTTY: boolean;
  env: Record<string, string | undefined>;
}

export interface Command {
  name: string;
  summary: string;
  /** Full help text, shown by `fleet <name> --help`. */
  help: string;
  run(args: string[], io: Io): Promise<number>;
}

/** A mistake in how the command was called: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Redis-only access for commands that talk to the queues (no PostgreSQL, no S3). */
export async function withProducer<T>(io: Io, fn: (p: Producer, config: Config, redis: Redis) => Promise<T>): Promise<T> {
  const config = fromEnv(io.env);
  const redis = producerConnection(config.redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  const producer = new Producer(new Map(allJobs.map((j) => [j.name, j])), redis, config.queuePrefix);
  try {
    await redis.ping().catch((err: unknown) => {
      throw new Error(`Cannot reach Redis at REDIS_URL (${(err as Error).message})`);
    });
    return await fn(producer, config, redis);
  } finally {
    await producer.close();
    redis.disconnect();
  }
}
