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
 * What it cannot do: fire while the whole process is frozen (SIGSTOP, a long GC pause). So every
 * change of that deadline is also fed to an ExternalFence (keel-fence, a process of its own),
 * which stops the postmaster at `stopAfterSentMs` — later than the guard, earlier than the key can
 * expire. While the guard's own fence holds PostgreSQL (commits blocked), the external one stands
 * down, so an agent that is alive fences gently and only a frozen or dead one is stopped hard.
 *
 * A renewer (failsafe_mode) is called its `leadMs` before the guard would fire: it may renew the
 * authority another way (a POST /failsafe round) while the HA cycle is blocked on an etcd that
 * does not answer, so that a leader every member vouches for is never fenced in the meantime.
 *
 * A replica's cycles may leave their keepalive out (src/ha/core/lease-renewal.ts); the backstop
 * sends one of its own should no cycle have sent one in time (a cycle slowed by its observation),
 * so that the member key does not expire for it.
 */
import type { Logger } from '../observability/log.js';
import type { Clock } from './clock.js';
import { DeadlineTimer } from './deadline-timer.js';

/** The part of the DCS the keeper uses. */
export interface LeaseStore {
  /** One keepalive (granting a lease when there is none); false when the lease had expired. */
  refreshLease(timeoutMs?: number): Promise<boolean>;
}

export interface GuardSetting {
  /** Fire at (authority send time) + this. */
  fenceAfterSentMs: number;
  /** The external fence stops PostgreSQL at (authority send time) + this. */
  stopAfterSentMs: number;
}

/** A fence outside this process: it stops PostgreSQL at `deadlineMs` (Clock.now() terms) unless fed a later one; null stands it down. */
export interface ExternalFence {
  feed(deadlineMs: number | null): void;
}

/** Called `leadMs` before the armed guard fires; it may confirm the authority (confirmFailsafe) in time. */
export interface AuthorityRenewer {
  leadMs(fenceAfterSentMs: number): number;
  renew(): void;
}

/**
 * With no confirmation at all (an agent that just started next to a running primary), the guard
 * fires at once; the external fence gives the guard's gentle fence this long to take hold first.
 */
const UNCONFIRMED_STOP_GRACE_MS = 1000;

export class LeaseKeeper {
  /** Send time of the newest keepalive etcd confirmed (monotonic); null before the first. */
  lastConfirmedSentMs: number | null = null;
  /** Send time of the newest POST /failsafe round every member accepted; null when none. */
  failsafeConfirmedSentMs: number | null = null;
  private guard: GuardSetting | null = null;
  /** Fires the guard (onFire) when the authority is used up. */
  private readonly fireTimer: DeadlineTimer;
  /** Calls the renewer its lead before fireTimer. */
  private readonly renewTimer: DeadlineTimer;
  /** Sends a keepalive at (last confirmed send time) + backstopAfterSentMs (setBackstop). */
  private readonly backstopTimer: DeadlineTimer;
  private backstopAfterSentMs: number | null = null;
  /** The guard's own fence holds PostgreSQL: the external fence may stand down. */
  private fenceInPlace = false;
  /** When the guard was armed (after being disarmed): the start of an unconfirmed authority. */
  private guardSinceMs: number | null = null;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly store: LeaseStore,
    private readonly log: Logger,
    private readonly onFire: (reason: string) => void,
    private readonly external: ExternalFence | null = null,
    private readonly renewer: AuthorityRenewer | null = null,
  ) {
    this.fireTimer = new DeadlineTimer(clock, () => {
      const guard = this.guard;
      if (guard !== null)
        this.onFire(`no confirmed lease keepalive (or failsafe confirmation) for ${guard.fenceAfterSentMs} ms; the leader key may expire soon`);
    });
    this.backstopTimer = new DeadlineTimer(clock, () => {
      this.log.info('no HA cycle renewed the lease in time: renewing it now');
      void this.keepalive();
    });
    this.renewTimer = new DeadlineTimer(clock, () => {
      // A timer that fires past the guard's deadline ran late: the process was not scheduled
      // (SIGSTOP, a VM pause) while its authority ran out and another node may hold the key
      // by now. Its round would ask the members to follow a leader that is no longer one
      // (found by seed-topology: a resumed frozen leader's round made a replica follow it and
      // block the next switchover for ttl); the guard fences instead.
      if (this.authorityExpired()) return;
      this.renewer?.renew();
    });
  }

  /** The later of the two confirmations our authority counts from; null when neither happened. */
  authoritySentMs(): number | null {
    const lease = this.lastConfirmedSentMs;
    const failsafe = this.failsafeConfirmedSentMs;
    if (lease === null) return failsafe;
    return failsafe === null ? lease : Math.max(lease, failsafe);
  }

  /**
   * Whether an armed guard would fire now: the authority it counts from is used up. A fence is
   * not lifted then (the decision to lift it was taken at the cycle's start; slow I/O since may
   * have used the authority up), nor would keel-fence let the server run.
   */
  authorityExpired(): boolean {
    const guard = this.guard;
    if (guard === null) return false;
    const sent = this.authoritySentMs();
    return sent === null || this.clock.now() >= sent + guard.fenceAfterSentMs;
  }

  /** One keepalive, its send time recorded before the request leaves; a failure is logged. */
  async keepalive(): Promise<boolean> {
    try {
      return await this.keepaliveOrThrow();
    } catch (error) {
      this.log.warning(`lease keepalive failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  /**
   * keepalive(), its failure thrown (etcd unreachable): the leader's cycle sends it as the proof
   * of its view (ClusterState.read), where an etcd that does not answer must fail the read.
   * False when the lease had expired.
   */
  async keepaliveOrThrow(): Promise<boolean> {
    const sentMs = this.clock.now();
    const ok = await this.store.refreshLease();
    if (ok) this.confirm(sentMs);
    return ok;
  }

  /** Every member accepted the POST /failsafe round sent at `sentMs`. */
  confirmFailsafe(sentMs: number): void {
    this.failsafeConfirmedSentMs = Math.max(sentMs, this.failsafeConfirmedSentMs ?? sentMs);
    this.rearm();
  }

  /**
   * A keepalive of its own at (last confirmed send time) + `afterSentMs` unless a later one is
   * confirmed first; null: none (a leader's cycles, or a replica's that renew every time). Fires
   * once per confirmed keepalive: a failed one is not retried here, the cycles go on trying.
   */
  setBackstop(afterSentMs: number | null): void {
    this.backstopAfterSentMs = afterSentMs;
    this.rearm();
  }

  /** The guard the latest decision asked for (null disarms it). */
  setGuard(guard: GuardSetting | null): void {
    if (guard === null) this.guardSinceMs = null;
    else this.guardSinceMs ??= this.clock.now();
    this.guard = guard;
    this.rearm();
  }

  /**
   * Whether PostgreSQL is held by the gentle fence (synchronous_standby_names naming no standby,
   * reloaded): true only once it took effect, false before it is lifted — so the external fence
   * is armed again before commits can be acknowledged again.
   */
  setFenceInPlace(inPlace: boolean): void {
    if (this.fenceInPlace === inPlace) return;
    this.fenceInPlace = inPlace;
    this.feedExternal();
  }

  /**
   * Disarms the guard for good (shutdown). The external fence keeps its last deadline: the agent
   * stands it down itself once PostgreSQL is stopped.
   */
  stop(): void {
    this.stopped = true;
    this.guard = null;
    this.backstopAfterSentMs = null;
    this.rearm();
  }

  private confirm(sentMs: number): void {
    this.lastConfirmedSentMs = Math.max(sentMs, this.lastConfirmedSentMs ?? sentMs);
    this.rearm();
  }

  private feedExternal(): void {
    if (this.external === null || this.stopped) return;
    const guard = this.guard;
    if (guard === null || this.fenceInPlace) {
      this.external.feed(null);
      return;
    }
    const sent = this.authoritySentMs();
    this.external.feed(sent === null ? (this.guardSinceMs ?? this.clock.now()) + UNCONFIRMED_STOP_GRACE_MS : sent + guard.stopAfterSentMs);
  }

  private rearm(): void {
    this.feedExternal();
    const confirmed = this.lastConfirmedSentMs;
    this.backstopTimer.set(this.backstopAfterSentMs === null || confirmed === null ? null : confirmed + this.backstopAfterSentMs);
    const guard = this.guard;
    if (guard === null) {
      this.fireTimer.set(null);
      this.renewTimer.set(null);
      return;
    }
    const sent = this.authoritySentMs();
    const fireAtMs = sent === null ? this.clock.now() : sent + guard.fenceAfterSentMs;
    this.fireTimer.set(fireAtMs);
    const renewer = this.renewer;
    this.renewTimer.set(renewer !== null && sent !== null ? fireAtMs - renewer.leadMs(guard.fenceAfterSentMs) : null);
  }
}
