/**
 * The lease keeper: the agent's etcd lease and the timer that guards it.
 *
 * It records the send time of every keepalive BEFORE the request leaves, and keeps the newest one
 * etcd confirmed: a key on our lease cannot outlive that send time + ttl. In failsafe_mode the
 * newest round of POST /failsafe every member accepted counts the same way (each of them promised
 * not to race for ttl). From the later of the two, the guard fires at `fenceAfterSentMs` — a timer
 * independent of the HA cycle, so it fires even while the cycle is blocked in I/O — and calls
 * `onFire`, which decides with the facts of that instant whether to fence (src/ha/core/guard.ts).
 *
 * What it cannot do: fire while the whole process is frozen (SIGSTOP, a long GC pause). That is
 * what a watchdog (or issue 10's independent fence) is for.
 */
import type { Logger } from '../observability/log.js';
import type { Clock } from './clock.js';

/** The part of the DCS the keeper uses. */
export interface LeaseStore {
  /** One keepalive (granting a lease when there is none); false when the lease had expired. */
  refreshLease(): Promise<boolean>;
}

export interface GuardSetting {
  /** Fire at (authority send time) + this. */
  fenceAfterSentMs: number;
}

export class LeaseKeeper {
  /** Send time of the newest keepalive etcd confirmed (monotonic); null before the first. */
  lastConfirmedSentMs: number | null = null;
  /** Send time of the newest POST /failsafe round every member accepted; null when none. */
  failsafeConfirmedSentMs: number | null = null;
  private guard: GuardSetting | null = null;
  private cancelTimer: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly store: LeaseStore,
    private readonly log: Logger,
    private readonly onFire: (reason: string) => void,
  ) {}

  /** The later of the two confirmations our authority counts from; null when neither happened. */
  authoritySentMs(): number | null {
    const lease = this.lastConfirmedSentMs;
    const failsafe = this.failsafeConfirmedSentMs;
    if (lease === null) return failsafe;
    return failsafe === null ? lease : Math.max(lease, failsafe);
  }

  /** One keepalive, its send time recorded before the request leaves. */
  async keepalive(): Promise<boolean> {
    const sentMs = this.clock.now();
    try {
      const ok = await this.store.refreshLease();
      if (ok) this.confirm(sentMs);
      return ok;
    } catch (error) {
      this.log.warning(`lease keepalive failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  /** Every member accepted the POST /failsafe round sent at `sentMs`. */
  confirmFailsafe(sentMs: number): void {
    this.failsafeConfirmedSentMs = Math.max(sentMs, this.failsafeConfirmedSentMs ?? sentMs);
    this.rearm();
  }

  /** The guard the latest decision asked for (null disarms it). */
  setGuard(guard: GuardSetting | null): void {
    this.guard = guard;
    this.rearm();
  }

  /** Disarms the guard for good (shutdown). */
  stop(): void {
    this.guard = null;
    this.rearm();
  }

  private confirm(sentMs: number): void {
    this.lastConfirmedSentMs = Math.max(sentMs, this.lastConfirmedSentMs ?? sentMs);
    this.rearm();
  }

  private rearm(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    const guard = this.guard;
    if (guard === null) return;
    const sent = this.authoritySentMs();
    const delayMs = sent === null ? 0 : Math.max(0, sent + guard.fenceAfterSentMs - this.clock.now());
    this.cancelTimer = this.clock.timer(delayMs, () => {
      this.cancelTimer = null;
      this.onFire(`no confirmed lease keepalive (or failsafe confirmation) for ${guard.fenceAfterSentMs} ms; the leader key may expire soon`);
    });
  }
}
