/** Patroni's safety_margin: -1 means "fire at half the ttl". */
export function effectiveSafetyMarginMs(ttlMs, safetyMarginMs) {
    return safetyMarginMs === -1 ? Math.floor(ttlMs / 2) : safetyMarginMs;
}
/** Patroni's nominal device timeout (for display and for opening the device). */
export function watchdogTimeoutMs(ttlMs, safetyMarginMs) {
    return Math.max(1000, ttlMs - effectiveSafetyMarginMs(ttlMs, safetyMarginMs));
}
/** Whether the watchdog can take part at all in this mode. */
export function watchdogWanted(mode, wd) {
    return mode === 'required' || (mode === 'automatic' && wd.available);
}
/**
 * Before promoting (or while promoting): the actions to run first, or null when promotion must not
 * happen ('required' and the device cannot be used).
 */
export function watchdogBeforePromote(mode, wd) {
    if (mode === 'off')
        return [];
    if (!wd.available)
        return mode === 'required' ? null : [];
    return wd.armed ? [{ kind: 'watchdog', op: 'keepalive' }] : [{ kind: 'watchdog', op: 'arm' }];
}
/** While leader, each cycle after the lease was confirmed. */
export function watchdogWhileLeader(mode, wd) {
    if (mode === 'off' || !wd.available)
        return [];
    return wd.armed ? [{ kind: 'watchdog', op: 'keepalive' }] : [{ kind: 'watchdog', op: 'arm' }];
}
/** On demote, on losing the key, in pause and whenever PostgreSQL is not the primary. */
export function watchdogDisable(wd) {
    return wd.armed ? [{ kind: 'watchdog', op: 'disable' }] : [];
}
/**
 * For the executor, at each arm/keepalive: the timeout (ms, whole seconds) to program before pinging,
 * so that the device fires at or before sentMs + ttl - safetyMargin; null = do not ping (too late).
 * `sentMs` is the send time of the newest confirmed keepalive of the lease holding the leader key.
 */
export function watchdogPingTimeoutMs(nowMs, sentMs, ttlMs, safetyMarginMs) {
    const wholeSeconds = Math.floor((sentMs + ttlMs - effectiveSafetyMarginMs(ttlMs, safetyMarginMs) - nowMs) / 1000);
    return wholeSeconds >= 1 ? wholeSeconds * 1000 : null;
}
//# sourceMappingURL=watchdog-logic.js.map