/**
 * A timer for a deadline that moves often, and mostly later: the lease keeper's guard moves with
 * every confirmed keepalive, twice an HA cycle on a leader.
 *
 * While idle, a Node timer costs a wake-up of the process each time the event loop's wait ends
 * at its time (on the 2-core VM of issue 12, 75 to 164 µs of CPU each). Two ways of moving a
 * deadline cost such wake-ups for nothing:
 *  - cancelling an unreferenced timer (`unref()`) and arming a new one: Node keeps the cancelled
 *    timer's list, and the loop still wakes at the time it was armed for;
 *  - keeping the armed timer and arming again for what remains when it fires: one wake-up per
 *    horizon (a guard 7 s ahead, moved every 2 s, fired every 6 s and a renewal every 4 s).
 * A referenced timer that is cancelled costs nothing: Node drops its list, and the loop's wait
 * is only ever set for the next timer due, which these are not while a cycle runs every
 * loop_wait. So the timer is re-armed whenever the deadline changes, and it keeps the process
 * alive while armed: its owner disarms it before the process is to exit (LeaseKeeper.stop).
 */
import type { Clock } from './clock.js';

export class DeadlineTimer {
  /** The deadline the armed timer fires at (Clock.now() terms); null when none is armed. */
  private armedAtMs: number | null = null;
  private cancel: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}

  /** Fire `fn` once at `deadlineMs` (Clock.now() terms; now or past = at once); null: never. */
  set(deadlineMs: number | null): void {
    if (deadlineMs === this.armedAtMs) return;
    this.cancel?.();
    this.cancel = null;
    this.armedAtMs = deadlineMs;
    if (deadlineMs === null) return;
    this.cancel = this.clock.timer(Math.max(0, deadlineMs - this.clock.now()), () => this.fired(), { keepAlive: true });
  }

  private fired(): void {
    this.cancel = null;
    this.armedAtMs = null;
    this.fn();
  }
}
