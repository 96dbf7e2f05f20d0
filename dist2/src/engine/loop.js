/** How long before a watchdog deadline the cycle that pings it starts. */
const WAKE_BEFORE_WATCHDOG_MS = 500;
/** The shortest pause between cycles that the watchdog can impose. */
const MIN_WATCHDOG_PERIOD_MS = 100;
export class CycleLoop {
    clock;
    log;
    /** Monotonic instant the next cycle is due (for /liveness). */
    nextRunAtMs = 0;
    stopping = false;
    pendingWake = false;
    sleeping = null;
    constructor(clock, log) {
        this.clock = clock;
        this.log = log;
    }
    /**
     * Runs cycles until stop(); `periodMs` is read after every cycle (the DCS config may change it),
     * `watchdogDueMs` too (null: no watchdog armed), and `wakeAtMs` (null: none), an instant the
     * last cycle asked to run again by (a scheduled switchover).
     */
    async run(cycle, periodMs, watchdogDueMs = () => null, wakeAtMs = () => null) {
        while (!this.stopping) {
            const startedMs = this.clock.now();
            try {
                await cycle();
            }
            catch (error) {
                this.log.error(`HA cycle failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
            }
            if (this.stopping)
                return;
            this.nextRunAtMs = startedMs + periodMs();
            const due = watchdogDueMs();
            if (due !== null && due - WAKE_BEFORE_WATCHDOG_MS < this.nextRunAtMs) {
                this.nextRunAtMs = Math.max(due - WAKE_BEFORE_WATCHDOG_MS, this.clock.now() + MIN_WATCHDOG_PERIOD_MS);
            }
            const asked = wakeAtMs();
            if (asked !== null && asked < this.nextRunAtMs)
                this.nextRunAtMs = Math.max(asked, this.clock.now());
            await this.sleepUntil(this.nextRunAtMs);
        }
    }
    wake() {
        this.pendingWake = true;
        this.sleeping?.abort();
    }
    stop() {
        this.stopping = true;
        this.sleeping?.abort();
    }
    async sleepUntil(atMs) {
        if (this.pendingWake) {
            this.pendingWake = false;
            return;
        }
        const controller = new AbortController();
        this.sleeping = controller;
        await this.clock.sleep(Math.max(0, atMs - this.clock.now()), controller.signal);
        this.sleeping = null;
        this.pendingWake = false;
    }
}
//# sourceMappingURL=loop.js.map