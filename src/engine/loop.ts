/**
 * The agent loop: one cycle at a time, every `periodMs` from the start of the previous cycle, or
 * at once when something wakes it (a watch event, a finished task). A wake that arrives while a
 * cycle runs is kept, so the next cycle starts right after. An armed watchdog moves the next cycle
 * earlier when it would fire first: its timeout is cut to whole seconds before the leader key can
 * expire, so with loop_wait close to ttl - safety_margin a calm leader would otherwise reset its
 * own machine every cycle (simulator, seed 10864). A cycle that throws is logged and the
 * loop goes on: the next observation shows whatever the failure left behind. An expected failure
 * (etcd unreachable or refusing, a KeelError) is one line, said again when its kind changes or a
 * minute later (an outage stays visible without a line every cycle; its message, which carries
 * timings, is not what is compared); a bug gets its stack every time.
 */
import type { Logger } from '../observability/log.js';
import { KeelError } from '../errors.js';
import type { Clock } from './clock.js';
import { DcsUnavailableError, EtcdError } from './etcd/etcd-errors.js';

/** How long before a watchdog deadline the cycle that pings it starts. */
const WAKE_BEFORE_WATCHDOG_MS = 500;
/** The shortest pause between cycles that the watchdog can impose. */
const MIN_WATCHDOG_PERIOD_MS = 100;
/** An expected failure that goes on is logged again after this long. */
const REPEAT_FAILURE_AFTER_MS = 60_000;

/** What an expected failure is, to tell a new one from the same going on; null for a bug. */
function failureKind(error: unknown): string | null {
  if (error instanceof DcsUnavailableError) return 'etcd unavailable';
  if (error instanceof EtcdError) return `etcd ${error.kind}`;
  if (error instanceof KeelError) return error.code;
  return null;
}

export class CycleLoop {
  /** Monotonic instant the next cycle is due (for /liveness). */
  nextRunAtMs = 0;
  private stopping = false;
  private pendingWake = false;
  private sleeping: AbortController | null = null;
  /** The kind of failure logged last (null after a cycle that succeeded), so an outage is one line, not one per cycle. */
  private lastFailure: { kind: string; atMs: number } | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * Runs cycles until stop(); `periodMs` is read after every cycle (the DCS config may change it),
   * `watchdogDueMs` too (null: no watchdog armed), and `wakeAtMs` (null: none), an instant the
   * last cycle asked to run again by (a scheduled switchover), given when the next cycle is due.
   */
  async run(
    cycle: () => Promise<void>,
    periodMs: () => number,
    watchdogDueMs: () => number | null = () => null,
    wakeAtMs: (dueMs: number) => number | null = () => null,
  ): Promise<void> {
    while (!this.stopping) {
      const startedMs = this.clock.now();
      try {
        await cycle();
        if (this.lastFailure !== null) this.log.info('HA cycle succeeded again');
        this.lastFailure = null;
      } catch (error) {
        this.logFailure(error);
      }
      if (this.stopping) return;
      this.nextRunAtMs = startedMs + periodMs();
      const due = watchdogDueMs();
      if (due !== null && due - WAKE_BEFORE_WATCHDOG_MS < this.nextRunAtMs) {
        this.nextRunAtMs = Math.max(due - WAKE_BEFORE_WATCHDOG_MS, this.clock.now() + MIN_WATCHDOG_PERIOD_MS);
      }
      const asked = wakeAtMs(this.nextRunAtMs);
      if (asked !== null && asked < this.nextRunAtMs) this.nextRunAtMs = Math.max(asked, this.clock.now());
      await this.sleepUntil(this.nextRunAtMs);
    }
  }

  private logFailure(error: unknown): void {
    const now = this.clock.now();
    const kind = failureKind(error);
    if (kind === null) {
      this.lastFailure = { kind: 'a bug', atMs: now }; // never matched: a bug is logged every time
      this.log.error(`HA cycle failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return;
    }
    if (this.lastFailure !== null && kind === this.lastFailure.kind && now - this.lastFailure.atMs < REPEAT_FAILURE_AFTER_MS) return;
    this.lastFailure = { kind, atMs: now };
    this.log.error(`HA cycle failed: ${(error as Error).message}`);
  }

  wake(): void {
    this.pendingWake = true;
    this.sleeping?.abort();
  }

  stop(): void {
    this.stopping = true;
    this.sleeping?.abort();
  }

  private async sleepUntil(atMs: number): Promise<void> {
    if (this.pendingWake) {
      this.pendingWake = false;
      return;
    }
    const controller = new AbortController();
    this.sleeping = controller;
    await this.clock.sleep(Math.max(0, atMs - this.clock.now()), controller.signal);
    this.sleeping = null;
    this.pendingWake = false;
  }
}
