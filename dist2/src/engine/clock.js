/**
 * Time as a port. The shell reads time and waits only through a Clock, so the simulator can run
 * the very same code on virtual time (TigerBeetle's rule: time is an argument). Safety decisions
 * use `now()` (monotonic); `wallMs()` is only for what people read (history timestamps,
 * dcs_last_seen).
 */
/** The process's own clocks: performance.now() and timers that do not keep the process alive. */
export const systemClock = {
    now: () => performance.now(),
    wallMs: () => Date.now(),
    sleep: (ms, signal) => new Promise((resolve) => {
        if (signal?.aborted === true) {
            resolve();
            return;
        }
        const done = () => {
            clearTimeout(handle);
            signal?.removeEventListener('abort', done);
            resolve();
        };
        const handle = setTimeout(done, Math.max(0, ms));
        signal?.addEventListener('abort', done, { once: true });
    }),
    timer: (ms, fn) => {
        const handle = setTimeout(fn, Math.max(0, ms));
        handle.unref();
        return () => clearTimeout(handle);
    },
};
/** ISO-8601 with a +00:00 offset, as Patroni writes timestamps. */
export function isoFromWallMs(wallMs) {
    return new Date(wallMs).toISOString().replace('Z', '+00:00');
}
//# sourceMappingURL=clock.js.map