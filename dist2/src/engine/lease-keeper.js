export class LeaseKeeper {
    clock;
    store;
    log;
    onFire;
    /** Send time of the newest keepalive etcd confirmed (monotonic); null before the first. */
    lastConfirmedSentMs = null;
    /** Send time of the newest POST /failsafe round every member accepted; null when none. */
    failsafeConfirmedSentMs = null;
    guard = null;
    cancelTimer = null;
    constructor(clock, store, log, onFire) {
        this.clock = clock;
        this.store = store;
        this.log = log;
        this.onFire = onFire;
    }
    /** The later of the two confirmations our authority counts from; null when neither happened. */
    authoritySentMs() {
        const lease = this.lastConfirmedSentMs;
        const failsafe = this.failsafeConfirmedSentMs;
        if (lease === null)
            return failsafe;
        return failsafe === null ? lease : Math.max(lease, failsafe);
    }
    /** One keepalive, its send time recorded before the request leaves. */
    async keepalive() {
        const sentMs = this.clock.now();
        try {
            const ok = await this.store.refreshLease();
            if (ok)
                this.confirm(sentMs);
            return ok;
        }
        catch (error) {
            this.log.warning(`lease keepalive failed: ${error instanceof Error ? error.message : String(error)}`);
            return false;
        }
    }
    /** Every member accepted the POST /failsafe round sent at `sentMs`. */
    confirmFailsafe(sentMs) {
        this.failsafeConfirmedSentMs = Math.max(sentMs, this.failsafeConfirmedSentMs ?? sentMs);
        this.rearm();
    }
    /** The guard the latest decision asked for (null disarms it). */
    setGuard(guard) {
        this.guard = guard;
        this.rearm();
    }
    /** Disarms the guard for good (shutdown). */
    stop() {
        this.guard = null;
        this.rearm();
    }
    confirm(sentMs) {
        this.lastConfirmedSentMs = Math.max(sentMs, this.lastConfirmedSentMs ?? sentMs);
        this.rearm();
    }
    rearm() {
        this.cancelTimer?.();
        this.cancelTimer = null;
        const guard = this.guard;
        if (guard === null)
            return;
        const sent = this.authoritySentMs();
        const delayMs = sent === null ? 0 : Math.max(0, sent + guard.fenceAfterSentMs - this.clock.now());
        this.cancelTimer = this.clock.timer(delayMs, () => {
            this.cancelTimer = null;
            this.onFire(`no confirmed lease keepalive (or failsafe confirmation) for ${guard.fenceAfterSentMs} ms; the leader key may expire soon`);
        });
    }
}
//# sourceMappingURL=lease-keeper.js.map