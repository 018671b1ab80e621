// Typed configuration from the environment. Pure: fromEnv(env) reads only its argument,
// so tests build configs without touching process.env. Every bad variable is reported at
// once, each by name, so an operator fixes them in one pass.

import net from 'node:net';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  s3: {
    /** undefined: start the embedded local S3 server (s3rver) under dataDir. */
    endpoint: string | undefined;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    forcePathStyle: boolean;
    embeddedPort: number;
  };
  dataDir: string;
  backupBucket: string;
  imageBucket: string;
  importBucket: string;
  /** inventory-import bounds: the largest export read [IMPORT_MAX_BYTES: 1 GiB], the deadline for a whole URL download [IMPORT_URL_TIMEOUT_MS: 10 min]. */
  import: { maxBytes: number; urlTimeoutMs: number };
  imagePublicBaseUrl: string | undefined;
  imageSourceHosts: string[];
  imageAllowPrivateNetworks: boolean;
  /** IPs/CIDRs an image source may resolve to even when private networks are refused (an internal mirror). */
  imageAllowAddresses: string[];
  imageDownloadTimeoutMs: number;
  /** Images one image-migration job decodes and encodes at once (twice as many more download and upload). */
  imageConcurrency: number;
  kicksdb: {
    baseUrl: string;
    apiKey: string | undefined;
    /** Shared by every replica (Redis limiter); KicksDB allows 640/min per IP. */
    requestsPerMinute: number;
    /** Products asked for per search page (`limit`). */
    pageSize: number;
    /** One request's time limit, body included. */
    timeoutMs: number;
    /** Retries of one request after 429, 5xx, timeouts and network errors. */
    maxRetries: number;
    /** First retry delay; doubles each retry (with jitter) up to 60 s, unless Retry-After says otherwise. */
    retryBaseMs: number;
  };
  alertWebhookUrl: string | undefined;
  httpPort: number;
  httpHost: string;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
  /** BullMQ lock duration and stalled-job check interval: how soon a crashed worker's job is picked up again. */
  worker: { lockDurationMs: number; stalledIntervalMs: number };
  monitorIntervalMs: number;
  scheduleTimezone: string;
  backupEncryptionKey: string | undefined;
  /** FLEET_SCHEDULES_FILE: a JSON file that overrides, disables or adds schedules [unset]. */
  schedulesFile: string | undefined;
  /** SCHEDULE_<NAME>=<cron>|off, keyed by variable name; checked against the known schedules at start. */
  scheduleOverrides: Record<string, string>;
  admin: {
    /** ADMIN_LOCKOUT_ATTEMPTS [10]: failed logins from one address, within the lockout window, that lock it out. */
    lockoutAttempts: number;
    /** ADMIN_LOCKOUT_SECONDS [900]: how far back failures count, and how long a lockout lasts. */
    lockoutSeconds: number;
    /** ADMIN_SESSION_TTL_HOURS [12]: lifetime of a web UI session. */
    sessionTtlHours: number;
  };
  /** Grandfather-father-son retention of backup-prune: newest backup of each of the last N days / ISO weeks / months. */
  backupRetention: { daily: number; weekly: number; monthly: number };
  /** Multipart part size and parts in flight for backup uploads; memory use is about size × (parallel + 1). */
  backupUpload: { partSizeMb: number; parallel: number };
  /** Directory of pg_dump/pg_restore (e.g. /usr/lib/postgresql/15/bin); unset: found on PATH. */
  pgBinDir: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** SCHEDULE_<NAME> variables (SCHEDULE_TIMEZONE is the zone, not a schedule). */
function scheduleOverrides(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('SCHEDULE_') && k !== 'SCHEDULE_TIMEZONE' && v !== undefined && v.trim() !== '') out[k] = v.trim();
  }
  return out;
}

export function fromEnv(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string, fallback?: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? fallback : v.trim();
  };
  const url = (name: string, protocols: string[], fallback?: string): string | undefined => {
    const v = str(name, fallback);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) {
        problems.push(`${name} must be a ${protocols.join(' or ')} URL (got protocol "${u.protocol}")`);
      }
    } catch {
      problems.push(`${name} is not a valid URL`);
    }
    return v;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = str(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${v}")`);
      return fallback;
    }
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    problems.push(`${name} must be true or false (got "${v}")`);
    return fallback;
  };
  const name = (varName: string, fallback: string): string => {
    const v = str(varName, fallback)!;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v)) {
      problems.push(`${varName} must be a valid bucket name: 3-63 lower-case letters, digits, '.' or '-' (got "${v}")`);
    }
    return v;
  };

  const cidrs = (varName: string): string[] => {
    const items = (str(varName) ?? '').split(',').map((c) => c.trim()).filter(Boolean);
    for (const item of items) {
      const [ip = '', bits, extra] = item.split('/');
      const family = net.isIP(ip);
      const max = family === 6 ? 128 : 32;
      if (!family || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))) {
        problems.push(`${varName} must be a comma-separated list of IP addresses or CIDRs (got "${item}")`);
      }
    }
    return items;
  };

  const logLevel = (str('LOG_LEVEL', 'info') as string).toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);

  const queuePrefix = str('QUEUE_PREFIX', 'fleet')!;
  if (!/^[A-Za-z0-9_{}.-]{1,64}$/.test(queuePrefix)) {
    problems.push(`QUEUE_PREFIX may hold only letters, digits, '_', '-', '.', '{' and '}' (got "${queuePrefix}")`);
  }
  const encryptionKey = str('BACKUP_ENCRYPTION_KEY');
  if (encryptionKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(encryptionKey) && Buffer.from(encryptionKey, 'base64').length !== 32) {
    problems.push('BACKUP_ENCRYPTION_KEY must be 32 bytes, as 64 hex digits or base64');
  }
  const timezone = str('SCHEDULE_TIMEZONE', 'UTC')!;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    problems.push(`SCHEDULE_TIMEZONE is not a known IANA time zone (got "${timezone}")`);
  }

  const config: Config = {
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://127.0.0.1:5432/fleet')!,
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379')!,
    queuePrefix,
    s3: {
      endpoint: url('S3_ENDPOINT', ['http:', 'https:']),
      region: str('S3_REGION', 'us-east-1')!,
      accessKeyId: str('S3_ACCESS_KEY_ID', 'S3RVER')!,
      secretAccessKey: str('S3_SECRET_ACCESS_KEY', 'S3RVER')!,
      forcePathStyle: bool('S3_FORCE_PATH_STYLE', true),
      embeddedPort: int('S3_EMBEDDED_PORT', 9470, 1, 65535),
    },
    dataDir: str('FLEET_DATA_DIR', '.data')!,
    backupBucket: name('BACKUP_BUCKET', 'backups'),
    imageBucket: name('IMAGE_BUCKET', 'product-images'),
    importBucket: name('IMPORT_BUCKET', 'imports'),
    import: {
      maxBytes: int('IMPORT_MAX_BYTES', 1024 ** 3, 1_024, 64 * 1024 ** 3),
      urlTimeoutMs: int('IMPORT_URL_TIMEOUT_MS', 600_000, 1_000, 24 * 3_600_000),
    },
    imagePublicBaseUrl: url('IMAGE_PUBLIC_BASE_URL', ['http:', 'https:']),
    imageSourceHosts: (str('IMAGE_SOURCE_HOSTS', '*.r2.dev,*.r2.cloudflarestorage.com,ae01.alicdn.com,*.alicdn.com,images.stockx.com,image.goat.com')!)
      .split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    imageAllowPrivateNetworks: bool('IMAGE_ALLOW_PRIVATE_NETWORKS', false),
    // [none] e.g. "10.0.3.7,10.8.0.0/16"
    imageAllowAddresses: cidrs('IMAGE_ALLOW_ADDRESSES'),
    imageDownloadTimeoutMs: int('IMAGE_DOWNLOAD_TIMEOUT_MS', 20_000, 100, 600_000),
    // [2] one per core on the 2-core target; sharp itself uses every core per image (MALLOC_ARENA_MAX=2).
    imageConcurrency: int('IMAGE_CONCURRENCY', 2, 1, 32),
    kicksdb: {
      baseUrl: url('KICKSDB_BASE_URL', ['http:', 'https:'], 'https://api.kicks.dev')!,
      apiKey: str('KICKSDB_API_KEY'),
      requestsPerMinute: int('KICKSDB_REQUESTS_PER_MINUTE', 640, 1, 100_000),
      pageSize: int('KICKSDB_PAGE_SIZE', 100, 1, 1_000),
      timeoutMs: int('KICKSDB_TIMEOUT_MS', 30_000, 100, 600_000),
      maxRetries: int('KICKSDB_MAX_RETRIES', 5, 0, 20),
      retryBaseMs: int('KICKSDB_RETRY_BASE_MS', 1_000, 1, 60_000),
    },
    alertWebhookUrl: url('ALERT_WEBHOOK_URL', ['http:', 'https:']),
    httpPort: int('HTTP_PORT', 9464, 0, 65535),
    httpHost: str('HTTP_HOST', '0.0.0.0')!,
    logLevel,
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 30_000, 0, 3_600_000),
    worker: {
      lockDurationMs: int('WORKER_LOCK_DURATION_MS', 30_000, 1_000, 3_600_000),
      stalledIntervalMs: int('WORKER_STALLED_INTERVAL_MS', 30_000, 1_000, 3_600_000),
    },
    monitorIntervalMs: int('MONITOR_INTERVAL_MS', 15_000, 100, 3_600_000),
    scheduleTimezone: timezone,
    backupEncryptionKey: encryptionKey,
    schedulesFile: str('FLEET_SCHEDULES_FILE'),
    scheduleOverrides: scheduleOverrides(env),
    admin: {
      lockoutAttempts: int('ADMIN_LOCKOUT_ATTEMPTS', 10, 1, 1_000),
      lockoutSeconds: int('ADMIN_LOCKOUT_SECONDS', 900, 1, 86_400),
      sessionTtlHours: int('ADMIN_SESSION_TTL_HOURS', 12, 1, 720),
    },
    backupRetention: {
      daily: int('BACKUP_KEEP_DAILY', 7, 0, 3_650),
      weekly: int('BACKUP_KEEP_WEEKLY', 4, 0, 520),
      monthly: int('BACKUP_KEEP_MONTHLY', 12, 0, 1_200),
    },
    backupUpload: {
      partSizeMb: int('BACKUP_PART_SIZE_MB', 8, 5, 1_024),
      parallel: int('BACKUP_UPLOAD_PARALLEL', 4, 1, 32),
    },
    pgBinDir: str('PG_BIN_DIR'),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
