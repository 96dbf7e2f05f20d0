/**
 * The agent's background task: one long operation at a time (initdb, clone, rewind, start,
 * promote, demote, ...), so the HA cycle never blocks on it; its outcome is reported to the next
 * observation. Generic over the task kinds, shared by every agent built on the engine.
 *
 * Invariants:
 *  - at most one task runs; a `supersede` kind (the demote) waits for the running one, then runs;
 *  - `generation` is bumped whenever a task starts or finishes. A task asked for on the strength
 *    of an observation of another generation is refused: the world it was decided on has changed
 *    (issue 6: a second pg_rewind started on the stale observation of the first one's server);
 *  - a failure is recorded with its message; RetryableTaskError marks one that changed nothing.
 */
import { KeelError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { Clock } from './clock.js';

export interface RunningTaskOf<K extends string> {
  kind: K;
  startedMs: number;
  target?: string;
}

export interface TaskResultOf<K extends string> {
  kind: K;
  ok: boolean;
  message: string;
  finishedMs: number;
  target?: string;
  retryable?: boolean;
  /** Order of completion: a later result has a higher sequence. */
  sequence: number;
}

export interface TaskSnapshot<K extends string> {
  running: RunningTaskOf<K> | null;
  lastResult: TaskResultOf<K> | null;
  /** The last result of each kind (a stop after a failed rewind must not make it forgotten). */
  lastByKind: Partial<Record<K, TaskResultOf<K>>>;
  generation: number;
}

/** A failure that says nothing about the data (the source was unreachable): the task may simply run again later. */
export class RetryableTaskError extends KeelError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'RetryableTaskError';
  }
}

export type TaskStart = 'started' | 'queued' | 'stale' | 'busy';

export class TaskRunner<K extends string> {
  private running: RunningTaskOf<K> | null = null;
  private lastResult: TaskResultOf<K> | null = null;
  private lastByKind: Partial<Record<K, TaskResultOf<K>>> = {};
  private sequence = 0;
  private promise: Promise<void> | null = null;
  private generation = 0;

  /**
   * @param supersede the kind that may start while another task runs (it waits for it).
   * @param onFinish called after every task ends, with how it ended (the agent wakes its loop).
   */
  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly supersede: K,
    private readonly onFinish: (result: TaskResultOf<K> | null) => void,
  ) {}

  snapshot(): TaskSnapshot<K> {
    return { running: this.running, lastResult: this.lastResult, lastByKind: { ...this.lastByKind }, generation: this.generation };
  }

  current(): RunningTaskOf<K> | null {
    return this.running;
  }

  isRunning(kind?: K): boolean {
    return this.running !== null && (kind === undefined || this.running.kind === kind);
  }

  /** Starts `body` as task `kind` unless refused (see the invariants); says what happened. */
  start(kind: K, target: string | undefined, observedGeneration: number, body: () => Promise<void>): TaskStart {
    if (kind !== this.supersede && observedGeneration !== this.generation) {
      this.log.info(`not starting ${kind}: a task started or finished while this cycle observed; deciding again`);
      return 'stale';
    }
    let run = body;
    let outcome: TaskStart = 'started';
    if (this.running !== null) {
      if (kind !== this.supersede) {
        this.log.warning(`not starting ${kind}: ${this.running.kind} is still running`);
        return 'busy';
      }
      const previous = this.promise ?? Promise.resolve();
      run = async () => {
        await previous.catch(() => undefined);
        await body();
      };
      outcome = 'queued';
    }
    const withTarget = target === undefined ? {} : { target };
    this.running = { kind, startedMs: this.clock.now(), ...withTarget };
    this.lastResult = null;
    this.generation += 1;
    const record = (result: Omit<TaskResultOf<K>, 'kind' | 'finishedMs' | 'sequence'>): void => {
      this.lastResult = { kind, ...result, finishedMs: this.clock.now(), sequence: ++this.sequence, ...withTarget };
      this.lastByKind[kind] = this.lastResult;
    };
    const finished = run().then(
      () => {
        record({ ok: true, message: 'ok' });
        this.log.info(`${kind} finished`);
      },
      (error: unknown) => {
        const retryable = error instanceof RetryableTaskError;
        const message = error instanceof Error ? error.message : String(error);
        record({ ok: false, message, ...(retryable ? { retryable } : {}) });
        this.log.error(`${kind} failed${retryable ? ' (will retry)' : ''}: ${message}`);
      },
    );
    const settled: Promise<void> = finished.finally(() => {
      this.generation += 1;
      // A task that a demote superseded finishes first: the demote's own completion clears the slot.
      if (this.promise === settled) {
        this.running = null;
        this.promise = null;
      }
      this.onFinish(this.lastResult);
    });
    this.promise = settled;
    return outcome;
  }

  /** Waits for the running task (if any), at most `timeoutMs`. */
  async settle(timeoutMs: number): Promise<void> {
    const promise = this.promise;
    if (promise === null) return;
    await Promise.race([promise, this.clock.sleep(timeoutMs)]);
  }
}
