/**
 * Watchdog rules (Patroni's watchdog.mode off | automatic | required), as pure functions.
 *
 * Why a watchdog: fencing through the lease guard needs a live agent. A frozen (SIGSTOPped) or
 * crashed agent cannot fence, while its PostgreSQL keeps acknowledging commits. The kernel watchdog
 * resets the machine when the agent stops pinging it, and its timeout is chosen so that the reset
 * happens before the leader key can expire:
 *   each ping (right after a CONFIRMED keepalive sent at `sentMs`) programs the device so that it
 *   fires at sentMs + ttl - safety_margin, i.e. timeout = sentMs + ttl - safety_margin - now, rounded
 *   DOWN to whole seconds (Linux WDIOC_SETTIMEOUT granularity); when that is under one second the
 *   ping is skipped (the device then fires even earlier, which is the safe side). So the reset always
 *   happens before the leader key can expire, however late the confirmation came.
 *
 * Rules: armed before promotion (required + unavailable device => no promotion); kept alive each
 * cycle while leader; disabled on demote and in pause.
 */
import type { WatchdogMode } from '../../config/types.js';
import type { Action, WatchdogObservation } from './types.js';

/** Patroni's safety_margin: -1 means "fire at half the ttl". */
export function effectiveSafetyMarginMs(ttlMs: number, safetyMarginMs: number): number {
  return safetyMarginMs === -1 ? Math.floor(ttlMs / 2) : safetyMarginMs;
}

/** Patroni's nominal device timeout (for display and for opening the device). */
export function watchdogTimeoutMs(ttlMs: number, safetyMarginMs: number): number {
  return Math.max(1000, ttlMs - effectiveSafetyMarginMs(ttlMs, safetyMarginMs));
}

/** Whether the watchdog can take part at all in this mode. */
export function watchdogWanted(mode: WatchdogMode, wd: WatchdogObservation): boolean {
  return mode === 'required' || (mode === 'automatic' && wd.available);
}

/**
 * Before promoting (or while promoting): the actions to run first, or null when promotion must not
 * happen ('required' and the device cannot be used).
 */
export function watchdogBeforePromote(mode: WatchdogMode, wd: WatchdogObservation): Action[] | null {
  if (mode === 'off') return [];
  if (!wd.available) return mode === 'required' ? null : [];
  return wd.armed ? [{ kind: 'watchdog', op: 'keepalive' }] : [{ kind: 'watchdog', op: 'arm' }];
}

/** While leader, each cycle after the lease was confirmed. */
export function watchdogWhileLeader(mode: WatchdogMode, wd: WatchdogObservation): Action[] {
  if (mode === 'off' || !wd.available) return [];
  return wd.armed ? [{ kind: 'watchdog', op: 'keepalive' }] : [{ kind: 'watchdog', op: 'arm' }];
}

/** On demote, on losing the key, in pause and whenever PostgreSQL is not the primary. */
export function watchdogDisable(wd: WatchdogObservation): Action[] {
  return wd.armed ? [{ kind: 'watchdog', op: 'disable' }] : [];
}

/**
 * For the executor, at each arm/keepalive: the timeout (ms, whole seconds) to program before pinging,
 * so that the device fires at or before sentMs + ttl - safetyMargin; null = do not ping (too late).
 * `sentMs` is the send time of the newest confirmed keepalive of the lease holding the leader key.
 */
export function watchdogPingTimeoutMs(nowMs: number, sentMs: number, ttlMs: number, safetyMarginMs: number): number | null {
  const wholeSeconds = Math.floor((sentMs + ttlMs - effectiveSafetyMarginMs(ttlMs, safetyMarginMs) - nowMs) / 1000);
  return wholeSeconds >= 1 ? wholeSeconds * 1000 : null;
}
