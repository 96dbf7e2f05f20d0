/**
 * What the watches beside the HA cycle (isolation-watch.ts, sync-watch.ts) share: a round of work
 * repeated on the agent's clock, the pause chosen after each round (short while there is
 * something to watch, long otherwise), and the question both ask first: does this node lead now?
 */
import type { Clock } from '../engine/clock.js';
import type { AgentContext } from './context.js';

export class RepeatingRound {
  private cancel: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    /** The pause before the next round, asked when it is scheduled. */
    private readonly pauseMs: () => number,
    private readonly round: () => Promise<void>,
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.clock.timer(this.pauseMs(), () => {
      this.cancel = null;
      void this.round().finally(() => this.schedule());
    });
  }
}

/** Leading right now: the key is ours, PostgreSQL is a primary (last probe), no task is changing it. */
export function leadsNow(a: AgentContext): boolean {
  return a.cluster.view?.leader?.name === a.local().name && a.pg.probe !== null && !a.pg.probe.inRecovery && a.tasks.current() === null;
}
