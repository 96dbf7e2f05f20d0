/**
 * A timer for a deadline that moves often, and mostly later: the lease keeper's guard moves with
 * every confirmed keepalive, twice an HA cycle on a leader.
 *
 * Cancelling a Node timer and arming a new one each time is not free while idle: a cancelled
 * timer still ends the event loop's wait at the time it was armed for (Node keeps an unreferenced
 * timer's list until that time, and does not pull the loop's wake-up back when a list empties).
 * An idle leader woke about four times a cycle for nothing (issue 12, a timer census). So a later
 * deadline keeps the armed timer, which on firing arms again for what remains; only an earlier one
 * re-arms at once. `fn` runs when the clock reaches the deadline, as a plain timer would have.
 */
import type { Clock } from './clock.js';

export class DeadlineTimer {
  private deadlineMs: number | null = null;
  /** When the armed timer fires (Clock.now() terms); null when none is armed. */
  private armedAtMs: number | null = null;
  private cancel: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}

  /** Fire `fn` once at `deadlineMs` (Clock.now() terms; now or past = at once); null: never. */
  set(deadlineMs: number | null): void {
    this.deadlineMs = deadlineMs;
    if (deadlineMs === null) {
      this.disarm();
      return;
    }
    // Armed for no later than the deadline: it fires in time and looks again then.
    if (this.armedAtMs !== null && this.armedAtMs <= deadlineMs) return;
    this.arm(deadlineMs);
  }

  private arm(atMs: number): void {
    this.disarm();
    this.armedAtMs = atMs;
    this.cancel = this.clock.timer(Math.max(0, atMs - this.clock.now()), () => this.fired());
  }

  private disarm(): void {
    this.cancel?.();
    this.cancel = null;
    this.armedAtMs = null;
  }

  private fired(): void {
    const armedAt = this.armedAtMs;
    this.cancel = null;
    this.armedAtMs = null;
    const deadline = this.deadlineMs;
    if (deadline === null) return;
    // Compared with what the timer was armed for, not with the clock: a clock may run a timer a
    // little early (Node rounds to whole ms, the simulator to whole ms of its own time) and a
    // remainder measured against it could re-arm for ever without time passing.
    if (armedAt !== null && deadline > armedAt) {
      this.arm(deadline); // the deadline moved later since this timer was armed
      return;
    }
    this.deadlineMs = null;
    this.fn();
  }
}
