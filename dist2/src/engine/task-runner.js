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
/** A failure that says nothing about the data (the source was unreachable): the task may simply run again later. */
export class RetryableTaskError extends KeelError {
    constructor(code, message) {
        super(code, message);
        this.name = 'RetryableTaskError';
    }
}
export class TaskRunner {
    clock;
    log;
    supersede;
    onFinish;
    running = null;
    lastResult = null;
    lastByKind = {};
    sequence = 0;
    promise = null;
    generation = 0;
    /**
     * @param supersede the kind that may start while another task runs (it waits for it).
     * @param onFinish called after every task ends (the agent wakes its loop).
     */
    constructor(clock, log, supersede, onFinish) {
        this.clock = clock;
        this.log = log;
        this.supersede = supersede;
        this.onFinish = onFinish;
    }
    snapshot() {
        return { running: this.running, lastResult: this.lastResult, lastByKind: { ...this.lastByKind }, generation: this.generation };
    }
    current() {
        return this.running;
    }
    isRunning(kind) {
        return this.running !== null && (kind === undefined || this.running.kind === kind);
    }
    /** Starts `body` as task `kind` unless refused (see the invariants); says what happened. */
    start(kind, target, observedGeneration, body) {
        if (kind !== this.supersede && observedGeneration !== this.generation) {
            this.log.info(`not starting ${kind}: a task started or finished while this cycle observed; deciding again`);
            return 'stale';
        }
        let run = body;
        let outcome = 'started';
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
        const record = (result) => {
            this.lastResult = { kind, ...result, finishedMs: this.clock.now(), sequence: ++this.sequence, ...withTarget };
            this.lastByKind[kind] = this.lastResult;
        };
        const finished = run().then(() => {
            record({ ok: true, message: 'ok' });
            this.log.info(`${kind} finished`);
        }, (error) => {
            const retryable = error instanceof RetryableTaskError;
            const message = error instanceof Error ? error.message : String(error);
            record({ ok: false, message, ...(retryable ? { retryable } : {}) });
            this.log.error(`${kind} failed${retryable ? ' (will retry)' : ''}: ${message}`);
        });
        const settled = finished.finally(() => {
            this.generation += 1;
            // A task that a demote superseded finishes first: the demote's own completion clears the slot.
            if (this.promise === settled) {
                this.running = null;
                this.promise = null;
            }
            this.onFinish();
        });
        this.promise = settled;
        return outcome;
    }
    /** Waits for the running task (if any), at most `timeoutMs`. */
    async settle(timeoutMs) {
        const promise = this.promise;
        if (promise === null)
            return;
        await Promise.race([promise, this.clock.sleep(timeoutMs)]);
    }
}
//# sourceMappingURL=task-runner.js.map