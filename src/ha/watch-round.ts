/**
 * What the watches beside the HA cycle (isolation-watch.ts, sync-watch.ts) share: a round of work
 * repeated on the agent's clock while there is something to watch, and the question both ask
 * first: does this node lead now?
 *
 * A watch with nothing to watch (a replica, a leader outside synchronous mode) sets no timer at
 * all: it sleeps until the HA cycle pokes it at the end of each cycle. Whether there is something
 * to watch (the leader key, the last probe, the task running, the setting in effect) only changes
 * in a cycle, or with a finished task, which wakes a cycle at once; an idle check every second
 * found nothing new, and cost an idle replica two timer wake-ups a second (issue 12).
 */
import type { Clock } from '../engine/clock.js';
import type { AgentContext } from './context.js';

export class RepeatingRound {
  private cancel: (() => void) | null = null;
  private running = false;
  /** bringForward was called while a round ran: the next one starts when it ends. */
  private again = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    /** The pause before the next round, asked when it is scheduled; null: none until poked. */
    private readonly pauseMs: () => number | null,
    private readonly round: () => Promise<void>,
  ) {}

  start(): void {
    this.run();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  /** Runs a round now if the watch sleeps until poked (no round running, none scheduled). */
  poke(): void {
    if (this.stopped || this.running || this.cancel !== null) return;
    this.run();
  }

  /** Runs a round now instead of at its scheduled time; right after the one under way, if any. */
  bringForward(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.cancel?.();
    this.cancel = null;
    this.run();
  }

  private run(): void {
    if (this.stopped) return;
    this.running = true;
    this.again = false;
    void this.round().finally(() => {
      this.running = false;
      if (this.again) this.run();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    const pause = this.pauseMs();
    if (pause === null) return;
    this.cancel = this.clock.timer(pause, () => {
      this.cancel = null;
      this.run();
    });
  }
}

/** Leading right now: the key is ours, PostgreSQL is a primary (last probe), no task is changing it. */
export function leadsNow(a: AgentContext): boolean {
  return a.cluster.view?.leader?.name === a.local().name && a.pg.probe !== null && !a.pg.probe.inRecovery && a.tasks.current() === null;
}
