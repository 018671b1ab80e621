import { describe, it, expect } from 'vitest';
import { fromEnv, ConfigError } from '../shared/config.ts';

describe('fromEnv', () => {
  it('gives the documented defaults with an empty environment', () => {
    const c = fromEnv({});
    expect(c.databaseUrl).toBe('postgres://127.0.0.1:5432/fleet');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.queuePrefix).toBe('fleet');
    expect(c.s3.endpoint).toBeUndefined();
    expect(c.backupBucket).toBe('backups');
    expect(c.imageBucket).toBe('product-images');
    expect(c.kicksdb.baseUrl).toBe('https://api.kicks.dev');
    expect(c.kicksdb.requestsPerMinute).toBe(640);
    expect(c.httpPort).toBe(9464);
    expect(c.logLevel).toBe('info');
  });

  it('names every bad variable in one error', () => {
    let err: unknown;
    try {
      fromEnv({ DATABASE_URL: 'mysql://x/y', HTTP_PORT: 'eighty', LOG_LEVEL: 'loud', S3_FORCE_PATH_STYLE: 'maybe', BACKUP_BUCKET: 'UPPER_case' });
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ['DATABASE_URL', 'HTTP_PORT', 'LOG_LEVEL', 'S3_FORCE_PATH_STYLE', 'BACKUP_BUCKET']) expect(msg).toContain(name);
    expect((err as ConfigError).problems).toHaveLength(5);
  });

  it('rejects a malformed URL and an unknown time zone', () => {
    expect(() => fromEnv({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL is not a valid URL/);
    expect(() => fromEnv({ SCHEDULE_TIMEZONE: 'Mars/Olympus' })).toThrow(/SCHEDULE_TIMEZONE/);
  });

  it('parses booleans and integers strictly', () => {
    expect(fromEnv({ IMAGE_ALLOW_PRIVATE_NETWORKS: 'true' }).imageAllowPrivateNetworks).toBe(true);
    expect(fromEnv({ IMAGE_ALLOW_PRIVATE_NETWORKS: 'off' }).imageAllowPrivateNetworks).toBe(false);
    expect(() => fromEnv({ HTTP_PORT: '70000' })).toThrow(/HTTP_PORT must be an integer from 0 to 65535/);
    expect(() => fromEnv({ HTTP_PORT: '1.5' })).toThrow(/HTTP_PORT/);
  });

  it('does not echo a secret it rejects', () => {
    expect(() => fromEnv({ BACKUP_ENCRYPTION_KEY: 'hunter2-secret' })).toThrow(/BACKUP_ENCRYPTION_KEY must be 32 bytes/);
    try { fromEnv({ BACKUP_ENCRYPTION_KEY: 'hunter2-secret' }); } catch (e) { expect((e as Error).message).not.toContain('hunter2'); }
  });
});
