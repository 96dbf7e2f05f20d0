/**
 * What the watches beside the HA cycle (isolation-watch.ts, sync-watch.ts) share: a round of work
 * repeated on the agent's clock, the pause chosen after each round (none while there is nothing
 * to watch: the agent pokes the watches after every HA cycle instead of each polling on a timer),
 * and the question both ask first: does this node lead now?
 */
import type { Clock } from '../engine/clock.js';
import type { AgentContext } from './context.js';

export class RepeatingRound {
  private cancel: (() => void) | null = null;
  private running = false;
  private stopped = false;
  /** When the last round ended (or the watch started), on the agent's clock. */
  private lastEndMs = 0;

  constructor(
    private readonly clock: Clock,
    /**
     * When the next round is due (agent clock), given when the last one ended; asked when it is
     * scheduled and again on poke(). Null when there is nothing to watch: then no timer runs (an
     * idle agent is not woken for nothing) until poke().
     */
    private readonly nextDueMs: (lastEndMs: number) => number | null,
    private readonly round: () => Promise<void>,
  ) {}

  start(): void {
    this.lastEndMs = this.clock.now();
    this.schedule();
  }

  /**
   * Something the next due time depends on may have changed (the agent calls this after every HA
   * cycle, which is where leading starts): the pending round, or an idle watch, is scheduled again
   * at the due time computed now. With nothing to watch any more, a pending round is left to run:
   * it is the one that finds so and clears what the watch kept (e.g. an isolation it saw).
   */
  poke(): void {
    if (this.running || this.stopped) return;
    const dueMs = this.nextDueMs(this.lastEndMs);
    if (dueMs === null) return;
    this.cancel?.();
    this.cancel = null;
    this.arm(dueMs);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    const dueMs = this.nextDueMs(this.lastEndMs);
    if (dueMs !== null) this.arm(dueMs);
  }

  private arm(dueMs: number): void {
    this.cancel = this.clock.timer(Math.max(0, dueMs - this.clock.now()), () => {
      this.cancel = null;
      this.running = true;
      void this.round().finally(() => {
        this.running = false;
        this.lastEndMs = this.clock.now();
        this.schedule();
      });
    });
  }
}

/** Leading right now: the key is ours, PostgreSQL is a primary (last probe), no task is changing it. */
export function leadsNow(a: AgentContext): boolean {
  return a.cluster.view?.leader?.name === a.local().name && a.pg.probe !== null && !a.pg.probe.inRecovery && a.tasks.current() === null;
}
