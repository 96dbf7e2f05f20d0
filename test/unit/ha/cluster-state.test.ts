/**
 * ClusterState.failsafeTopology: who a failsafe confirmation round asks. A write of the `failsafe`
 * key that no read has shown yet may have landed or not (in flight, or timed out after etcd got
 * it), so the round asks every member of the last read's topology and of every such write, until
 * a read shows the newest write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterView, Dcs } from '../../../src/dcs/types.js';
import { ClusterState } from '../../../src/ha/cluster-state.js';
import { createLogger } from '../../../src/observability/log.js';
import { manualClock } from '../../support/manual-clock.js';
import { config, view } from './fixtures.js';

const A = { n1: 'http://n1:8008/patroni', n2: 'http://n2:8008/patroni' };
const B = { n1: 'http://n1:8008/patroni', n2: 'http://n2:8008/patroni', n3: 'http://n3:8008/patroni' };
const C = { n1: 'http://n1:8008/patroni', n4: 'http://n4:8008/patroni' };

/** A DCS whose reads return whatever `shown` holds at the time. */
function dcsShowing(shown: { view: ClusterView }): Dcs {
  return { readCluster: async () => ({ view: shown.view, currentAtMs: 0 }) } as unknown as Dcs;
}

test('a failsafe write counts with the older topology until a read shows it', async () => {
  const { clock } = manualClock(1000);
  const log = createLogger({ level: 'error', format: 'text', write: () => undefined });
  const shown = { view: view({ failsafe: A }) };
  const dcs = dcsShowing(shown);
  const state = new ClusterState(config());
  await state.read(dcs, clock, log, 'n1');
  assert.deepEqual(state.failsafeTopology(), A, 'no write: what the read showed');

  state.noteFailsafeWriting(B);
  assert.deepEqual(Object.keys(state.failsafeTopology() ?? {}).sort(), ['n1', 'n2', 'n3'], 'in flight: both');
  state.noteFailsafeWritten(B);
  assert.deepEqual(Object.keys(state.failsafeTopology() ?? {}).sort(), ['n1', 'n2', 'n3']);

  state.noteFailsafeWriting(C); // this one times out: it may still land
  await state.read(dcs, clock, log, 'n1'); // the read still shows A
  assert.deepEqual(Object.keys(state.failsafeTopology() ?? {}).sort(), ['n1', 'n2', 'n3', 'n4'], 'every write no read has shown');

  shown.view = view({ failsafe: C });
  await state.read(dcs, clock, log, 'n1');
  assert.deepEqual(state.failsafeTopology(), C, 'the newest write shown: only it');
  shown.view = view({ failsafe: null });
  await state.read(dcs, clock, log, 'n1');
  assert.equal(state.failsafeTopology(), null, 'and from then on what reads show');
});
