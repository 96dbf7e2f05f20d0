/**
 * ClusterState and the `failsafe` key: who a failsafe confirmation round asks (the view's key). A
 * write of the key that no read has shown yet may have landed or not (in flight, or timed out
 * after etcd got it), so the view's key lists the members of the last read and of every such
 * write, until a read shows the newest write or another member holds the leader key. An absent
 * or empty key is never widened: it lets every member race, so a round on it must fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterView, Dcs } from '../../../src/dcs/types.js';
import { ClusterState } from '../../../src/ha/cluster-state.js';
import { sameTopology } from '../../../src/ha/core/rules/leader-duties.js';
import { createLogger } from '../../../src/observability/log.js';
import { manualClock } from '../../support/manual-clock.js';
import { config, view } from './fixtures.js';

const A = { n1: 'http://n1:8008/patroni', n2: 'http://n2:8008/patroni' };
const B = { n1: 'http://n1:8008/patroni', n2: 'http://n2:8008/patroni', n3: 'http://n3:8008/patroni' };
const C = { n1: 'http://n1:8008/patroni', n4: 'http://n4:8008/patroni' };
const log = createLogger({ level: 'error', format: 'text', write: () => undefined });
const leaderView = (failsafe: Record<string, string> | null): ClusterView => view({ failsafe, leader: { name: 'n1', modRevision: 5, leaseId: 'lease-n1' } });

/** n1's ClusterState over a DCS whose reads return whatever `shown.view` holds at the time. */
async function leaderState(first: ClusterView): Promise<{ state: ClusterState; shown: { view: ClusterView }; read: () => Promise<void> }> {
  const { clock } = manualClock(1000);
  const shown = { view: first };
  const dcs = { readCluster: async () => ({ view: shown.view, currentAtMs: 0 }) } as unknown as Dcs;
  const state = new ClusterState(config());
  const read = async (): Promise<void> => void (await state.read(dcs, clock, log, 'n1'));
  await read();
  return { state, shown, read };
}

const members = (state: ClusterState): string[] => Object.keys(state.view?.failsafe ?? {}).sort();

test('a failsafe write counts with the older topology until a read shows it', async () => {
  const { state, shown, read } = await leaderState(leaderView(A));
  assert.deepEqual(state.view?.failsafe, A, 'no write: what the read showed');

  state.noteFailsafeWriting(B);
  assert.deepEqual(members(state), ['n1', 'n2', 'n3'], 'in flight: both');
  state.noteFailsafeWritten(B);
  assert.deepEqual(members(state), ['n1', 'n2', 'n3']);

  state.noteFailsafeWriting(C); // this one times out: it may still land
  await read(); // the read still shows A
  assert.deepEqual(members(state), ['n1', 'n2', 'n3', 'n4'], 'every write no read has shown');

  shown.view = leaderView(C);
  await read();
  assert.deepEqual(state.view?.failsafe, C, 'the newest write shown: only it');
  shown.view = leaderView(A);
  await read();
  assert.deepEqual(state.view?.failsafe, A, 'and from then on what reads show');
});

test('a write that never landed does not stay: the leader sees a key unlike the one it wants, and writes again', async () => {
  const { state, shown, read } = await leaderState(leaderView(A));
  state.noteFailsafeWriting(B); // adds n3; times out and never lands
  await read();
  // n3 left meanwhile: the leader wants A again, which is what etcd holds. Its view still lists
  // n3, so leader-duties writes A (a round on A ∪ B would wait for n3 forever).
  assert.equal(sameTopology(state.view?.failsafe ?? null, A), false);
  state.noteFailsafeWriting(A);
  state.noteFailsafeWritten(A);
  await read();
  assert.deepEqual(state.view?.failsafe, A, 'a read shows the newest write: settled');

  state.noteFailsafeWriting(B);
  shown.view = view({ failsafe: A, leader: { name: 'n2', modRevision: 9, leaseId: 'lease-n2' } });
  await read();
  assert.deepEqual(state.view?.failsafe, A, 'another member leads: its writes count, not ours');
});

test('an absent or empty key is never widened: a round on it fails', async () => {
  for (const failsafe of [null, {}]) {
    const { state, read } = await leaderState(leaderView(failsafe));
    state.noteFailsafeWriting(B);
    assert.deepEqual(state.view?.failsafe, failsafe, 'in flight over an absent key');
    await read();
    assert.deepEqual(state.view?.failsafe, failsafe, 'timed out: etcd may still hold no topology');
  }
});

/**
 * The leader's proof: the keepalive it sends every cycle, sent before the read (and so before the
 * decision) rather than after it. The read then asks for a proof no older than its own start,
 * which that keepalive is; a keepalive etcd does not answer fails the read, as a read would have.
 */
test("the leader's read sends its keepalive first and asks for a proof from then on; a replica's does neither", async () => {
  const { clock, advanceTo } = manualClock(1000);
  const calls: string[] = [];
  const dcs = {
    readCluster: async (_maxProofAgeMs: number, provenSinceMs?: number) => {
      calls.push(`read since ${provenSinceMs ?? 'any'}`);
      return { view: leaderView(A), currentAtMs: clock.now() };
    },
  } as unknown as Dcs;
  const renew = async (): Promise<boolean> => {
    calls.push(`keepalive at ${clock.now()}`);
    return true;
  };
  const state = new ClusterState(config());
  await state.read(dcs, clock, log, 'n2', renew);
  assert.deepEqual(calls, ['read since any'], 'no view yet, so not leading: no keepalive, any young proof');
  calls.length = 0;
  advanceTo(3000);
  await state.read(dcs, clock, log, 'n1', renew);
  assert.deepEqual(calls, ['keepalive at 3000', 'read since 3000'], 'n1 holds the key: keepalive, then a proof from the read start');
  calls.length = 0;
  await state.read(dcs, clock, log, 'n2', renew);
  assert.deepEqual(calls, ['read since any'], 'n2 does not hold it');
});

test("a leader's keepalive that etcd does not answer fails the read: the cycle takes the DCS-failure path", async () => {
  const { clock } = manualClock(1000);
  let reads = 0;
  const dcs = {
    readCluster: async () => {
      reads += 1;
      return { view: leaderView(A), currentAtMs: clock.now() };
    },
  } as unknown as Dcs;
  const state = new ClusterState(config());
  await state.read(dcs, clock, log, 'n1');
  assert.equal(state.failingSinceMs, null);
  const failed = await state.read(dcs, clock, log, 'n1', async () => {
    throw new Error('no etcd endpoint answered /lease/keepalive within 10000 ms');
  });
  assert.equal(failed, null, 'no view this cycle');
  assert.equal(state.failingSinceMs, 1000, 'the failure is recorded');
  assert.equal(reads, 1, 'and the copy was not read after the failed keepalive');
});
