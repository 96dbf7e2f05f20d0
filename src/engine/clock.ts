/**
 * Time as a port. The shell reads time and waits only through a Clock, so the simulator can run
 * the very same code on virtual time (TigerBeetle's rule: time is an argument). Safety decisions
 * use `now()` (monotonic); `wallMs()` is only for what people read (history timestamps,
 * dcs_last_seen).
 */

export interface Clock {
  /** Monotonic milliseconds; never goes back, unrelated to the wall clock. */
  now(): number;
  /** Wall-clock epoch milliseconds (for display only). */
  wallMs(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms` unless the returned function cancels it first. */
  timer(ms: number, fn: () => void, options?: TimerOptions): () => void;
}

export interface TimerOptions {
  /**
   * Keep the process alive while the timer is armed (default: not). Cancelling such a timer is
   * free for an idle process: Node drops its wake-up unless it was the next one due, whereas a
   * cancelled unreferenced timer still ends the event loop's wait at the time it was armed for.
   */
  keepAlive?: boolean;
}

/** The process's own clocks: performance.now() and timers that do not keep the process alive unless asked. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallMs: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(handle);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const handle = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
  timer: (ms, fn, options) => {
    const handle = setTimeout(fn, Math.max(0, ms));
    if (options?.keepAlive !== true) handle.unref();
    return () => clearTimeout(handle);
  },
};

/** ISO-8601 with a +00:00 offset, as Patroni writes timestamps. */
export function isoFromWallMs(wallMs: number): string {
  return new Date(wallMs).toISOString().replace('Z', '+00:00');
}
