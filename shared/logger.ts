import { pino, type Logger, type DestinationStream } from 'pino';
import { LOG_REDACT_PATHS, maskUrlCredentials } from './redact.ts';

export type { Logger };

/** One pino instance per process; units of work take a child (`log.child({ queue, jobId })`). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        err: (err: unknown) => {
          const s = pino.stdSerializers.err(err as Error);
          if (s && typeof s.message === 'string') s.message = maskUrlCredentials(s.message);
          if (s && typeof s.stack === 'string') s.stack = maskUrlCredentials(s.stack);
          return s;
        },
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
