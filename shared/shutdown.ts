import type { Logger } from './logger.ts';

/**
 * Runs every cleanup step even when an earlier one fails (a dead Redis must not keep the
 * pool open), then reports the first failure.
 */
export async function closeAll(log: Logger, steps: [string, () => Promise<void>][]): Promise<void> {
  let first: unknown;
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      log.warn({ err, step: name }, 'cleanup step failed');
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Calls stop() once on SIGTERM/SIGINT and sets the exit code from its outcome; a second
 * signal exits at once. Never calls process.exit right after a close: the event loop
 * drains and the process ends by itself with the code set here.
 */
export function onShutdownSignals(log: Logger, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop(signal).then(
      () => {
        process.exitCode = process.exitCode ?? 0;
        log.info('shutdown complete');
        // Everything is closed; if a stray handle still holds the loop, do not hang forever.
        setTimeout(() => { log.warn('handles still open after shutdown; exiting'); process.exit(); }, 5_000).unref();
      },
      (err: unknown) => { process.exitCode = 1; log.error({ err }, 'shutdown failed'); },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
