/** A time limit on some work, folded together with the signal of whoever may cancel it. */
export interface Deadline {
  /** Aborts when the parent does (with its reason) or once the time is up (a TimeoutError). */
  readonly signal: AbortSignal;
  /** True once the time ran out (not when the parent aborted). */
  readonly timedOut: boolean;
  /** The work is over: stop the timer and stop listening to the parent. */
  clear(): void;
}

/**
 * A signal that aborts when `parent` does, or with a TimeoutError after `ms`.
 *
 * Not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 the combined signal
 * holds the timeout signal only weakly, so once the garbage collector has taken it the limit
 * never fires, and a server that trickles its answer holds the job forever (tests/host/
 * deadline.test.ts). Here the timer holds the controller until it fires or clear() is called.
 */
export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const onParentAbort = () => {
    clearTimeout(timer);
    controller.abort(parent!.reason);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    parent?.removeEventListener('abort', onParentAbort);
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, ms);
  timer.unref(); // a pending limit alone does not keep the process alive
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
