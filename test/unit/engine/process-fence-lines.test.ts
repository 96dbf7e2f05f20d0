/**
 * The lines keel-fence sends the agent (src/engine/process-fence.ts): its stop count, from the
 * unsolicited "event fenced" line or from a status answer, and probe rounds; anything else is
 * neither.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProbeEvent, parseStops } from '../../../src/engine/process-fence.js';

test('stop counts are read from the event and from every status state; other lines are not counts', () => {
  assert.deepEqual(parseStops('event fenced 1 4242'), { stops: 1, pid: 4242 });
  assert.deepEqual(parseStops('armed 8498 4242 0'), { stops: 0, pid: 4242 });
  assert.deepEqual(parseStops('fired -1 4242 3'), { stops: 3, pid: 4242 });
  assert.deepEqual(parseStops('disarmed -1 4242 2'), { stops: 2, pid: 4242 });
  for (const line of ['armed 8498', 'armed 8498 4242', 'event probe 1 2 0 200 3', 'event fenced x 1', 'probe on', 'fired 0 12 1 extra'])
    assert.equal(parseStops(line), null, line);
});

test('probe rounds are read from their event only', () => {
  assert.deepEqual(parseProbeEvent('event probe 0 2 1 0 400'), { etcdAnswered: false, peers: 2, peersAnswered: 1, etcdStatus: 0, roundMs: 400 });
  assert.equal(parseProbeEvent('event fenced 1 4242'), null);
});
