/**
 * The task runner's invariants (src/engine/task-runner.ts): one task at a time, the demote waits
 * for the running task, a task decided on a stale observation is refused (issue 6, item 4: a second
 * pg_rewind started 50 ms after the first finished, on the observation of its stopped server),
 * and a RetryableTaskError is reported as such.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/engine/clock.js';
import { RetryableTaskError, TaskRunner } from '../../../src/engine/task-runner.js';
import { createLogger } from '../../../src/observability/log.js';
const quiet = createLogger({ level: 'error', format: 'text', write: () => undefined });
function deferred() {
    let resolve = () => undefined;
    const promise = new Promise((r) => (resolve = r));
    return { promise, resolve };
}
function runner() {
    let finished = 0;
    const tasks = new TaskRunner(systemClock, quiet, 'demote', () => finished++);
    return { tasks, finished: () => finished };
}
test('a task decided on an observation older than the last task change is refused', async () => {
    const { tasks } = runner();
    const observed = tasks.snapshot().generation;
    const first = deferred();
    assert.equal(tasks.start('rewind', 'n1', observed, () => first.promise), 'started');
    first.resolve();
    await tasks.settle(1000);
    // The cycle that observed before the rewind finished decides "rewind" again: refused.
    let ran = false;
    assert.equal(tasks.start('rewind', 'n1', observed, async () => {
        ran = true;
    }), 'stale');
    assert.equal(ran, false);
    // A cycle that observes afterwards may start it.
    assert.equal(tasks.start('rewind', 'n1', tasks.snapshot().generation, async () => undefined), 'started');
    await tasks.settle(1000);
});
test('one task at a time; the demote waits for the running task, then runs', async () => {
    const { tasks, finished } = runner();
    const order = [];
    const slow = deferred();
    tasks.start('start', undefined, tasks.snapshot().generation, async () => {
        await slow.promise;
        order.push('start');
    });
    assert.equal(tasks.start('rewind', undefined, tasks.snapshot().generation, async () => undefined), 'busy');
    assert.equal(tasks.start('demote', undefined, 0, async () => {
        order.push('demote');
    }), 'queued');
    slow.resolve();
    await tasks.settle(1000);
    await tasks.settle(1000);
    assert.deepEqual(order, ['start', 'demote']);
    assert.equal(tasks.current(), null);
    assert.equal(finished(), 2);
    assert.equal(tasks.snapshot().lastResult?.kind, 'demote');
});
test('a retryable failure is reported as retryable, another failure is not, and each kind keeps its last result', async () => {
    const { tasks } = runner();
    tasks.start('rewind', 'n1', tasks.snapshot().generation, async () => {
        throw new RetryableTaskError('ha.rewind_source_unreachable', 'cannot reach the rewind source');
    });
    await tasks.settle(1000);
    assert.equal(tasks.snapshot().lastResult?.ok, false);
    assert.equal(tasks.snapshot().lastResult?.retryable, true);
    tasks.start('start', undefined, tasks.snapshot().generation, async () => {
        throw new Error('pg_ctl: could not start server');
    });
    await tasks.settle(1000);
    const snap = tasks.snapshot();
    assert.equal(snap.lastResult?.kind, 'start');
    assert.equal(snap.lastResult?.retryable, undefined);
    assert.equal(snap.lastByKind.rewind?.message, 'cannot reach the rewind source');
});
//# sourceMappingURL=task-runner.test.js.map