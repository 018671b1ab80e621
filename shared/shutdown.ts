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
 * The same signal again within this long is the same Ctrl-C delivered twice: the terminal
 * signals the whole foreground group, and npm (`npm start`) forwards its copy to its child.
 */
const ECHO_MS = 1_000;

/**
 * Calls stop() once on SIGTERM/SIGINT and sets the exit code from its outcome; a second
 * signal (not an echo of the first, see ECHO_MS) exits at once. Never calls process.exit
 * right after a close: the event loop drains and the process ends by itself with the code
 * set here.
 */
export function onShutdownSignals(log: Logger, stop: (signal: string) => Promise<void>): void {
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < ECHO_MS) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    first = { signal, at: Date.now() };
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
