/**
 * Issue 10: agents frozen (SIGSTOP, a long GC pause) past ttl, or killed, on nodes WITHOUT a
 * watchdog — the production case. Their still-running primary is stopped by keel-fence, the
 * process outside the agent that it feeds with its lease deadline, before a replica can take the
 * key. This family of schedules found two primaries in most batches before keel-fence existed
 * (bite.test.ts keeps showing that, with the mutant that removes it); now it must find none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBatchParallel } from './parallel.js';
import { KNOWN_LIMITATIONS } from './world.js';

test('agents frozen or killed on nodes without a watchdog: keel-fence keeps one primary acknowledging (1000 schedules)', { timeout: 600_000 }, async () => {
  // on every core (seeds are independent: the same schedules and verdicts as one thread, in half the time on 2)
  const summary = await runBatchParallel(1, 1000, { family: 'frozen-unguarded' });
  console.log(summary.text);
  assert.equal(summary.failures.length, 0, summary.text);
  // The one named limitation that remains (a timeline collision, see KNOWN_LIMITATIONS) is not about fencing.
  assert.deepEqual(
    [...summary.known.keys()].filter((k) => k !== KNOWN_LIMITATIONS.timelineCollision),
    [],
    summary.text,
  );
});
