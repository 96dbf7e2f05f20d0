/**
 * Known failures, shown rather than hidden. Issue 10 is open: an agent frozen (SIGSTOP, a long
 * GC pause) past ttl on a node WITHOUT a watchdog — the production case, since the watchdog is
 * unusable from Node today — cannot fence its still-running primary, and a replica is promoted
 * next to it. This family of schedules must keep finding that failure until the frozen-agent
 * fence exists; then this test flips to demand none. It counts neither as a pass of the main
 * simulation nor is it left out of the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBatch } from './batch.js';
import { KNOWN_LIMITATIONS } from './world.js';
test(`KNOWN FAILURE (issue 10): ${KNOWN_LIMITATIONS.frozenUnguarded} — two primaries still found`, { timeout: 600_000 }, async () => {
    const summary = await runBatch(1, 300, { family: 'frozen-unguarded' });
    console.log(summary.text);
    const found = summary.known.get(KNOWN_LIMITATIONS.frozenUnguarded) ?? [];
    assert.ok(found.length > 0, 'no schedule of the frozen-unguarded family failed: if issue 10 landed, make this test demand zero');
    assert.equal(summary.failures.length, 0, `failures outside the known limitation:\n${summary.text}`);
});
//# sourceMappingURL=known-failures.test.js.map