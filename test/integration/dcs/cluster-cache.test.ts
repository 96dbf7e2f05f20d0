/**
 * The agent's per-cycle read (EtcdDcs.readCluster) against a real 3-member etcd: it serves the
 * watch-fed copy of the prefix while a keepalive proves it current, and never serves a stale
 * leader after a watch gap — the member the watch streams from stopped while the leader changed
 * and the history was compacted, then restarted. Every read here follows a keepalive confirmed
 * after the change, which is the guarantee readCluster gives (prefix-cache.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient } from '../../../src/engine/etcd/etcd-client.js';
import { observeEtcdRequests } from '../../../src/engine/etcd/etcd-observer.js';
import { freshScope, startFixture, waitFor, type EtcdFixture } from './etcd-fixture.js';

let fixture: EtcdFixture;

before(async () => {
  fixture = await startFixture(3, 'cache');
});

after(async () => {
  await fixture?.teardown();
});

/** A read that came from the copy reports the keepalive's send time, before the read began. */
async function readAfterKeepalive(dcs: ReturnType<EtcdFixture['dcs']>): Promise<{ leader: string | null; cached: boolean }> {
  assert.equal(await dcs.refreshLease(), true, 'keepalive confirmed');
  const startedMs = performance.now();
  const { view, currentAtMs } = await (dcs.readCluster as NonNullable<typeof dcs.readCluster>)(10_000);
  return { leader: view.leader?.name ?? null, cached: currentAtMs < startedMs };
}

test('while the watch runs, reads come from the copy and follow every leader change', async () => {
  const scope = freshScope('follow');
  const observer = fixture.dcs('obs', { scope, ttlS: 30 });
  const a = fixture.dcs('a', { scope, ttlS: 30 });
  const b = fixture.dcs('b', { scope, ttlS: 30 });
  await Promise.all([observer.createLease(30), a.createLease(30), b.createLease(30)]);
  const controller = new AbortController();
  try {
    observer.watch((await observer.loadCluster()).revision, () => undefined, controller.signal);
    assert.equal(await a.attemptToAcquireLeader(), true);
    await waitFor(async () => (await readAfterKeepalive(observer)).leader === 'a', 5_000, 'the observer to see leader a');
    // Once the watch delivered the change, reads are served from the copy.
    await waitFor(async () => (await readAfterKeepalive(observer)).cached, 5_000, 'a read served from the copy');
    for (let round = 0; round < 5; round++) {
      const [from, to] = round % 2 === 0 ? [a, b] : [b, a];
      assert.equal(await from.deleteLeader(), true);
      assert.equal(await to.attemptToAcquireLeader(), true);
      // Every read after a keepalive that followed the change shows the new leader, cached or not.
      const read = await readAfterKeepalive(observer);
      assert.equal(read.leader, to.name, `round ${round}: the read after the change shows ${read.leader}`);
    }
  } finally {
    controller.abort();
  }
});

test('after a watch gap (its member stopped, the leader changed, history compacted, member restarted) no read shows the old leader', async () => {
  const scope = freshScope('gap');
  // The observer knows only member 0, so its watch cannot move to another member while that one
  // is down: the gap is real. The others use members 1 and 2.
  const endpoints = fixture.cluster.endpoints;
  const observer = fixture.dcs('obs', { scope, ttlS: 30, endpoints: endpoints.slice(0, 1), minAttemptTimeoutMs: 300 });
  const others = endpoints.slice(1);
  const a = fixture.dcs('a', { scope, ttlS: 30, endpoints: others });
  const b = fixture.dcs('b', { scope, ttlS: 30, endpoints: others });
  const raw = new EtcdClient({ endpoints: others, requestTimeoutMs: 5_000 });
  await Promise.all([observer.createLease(30), a.createLease(30), b.createLease(30)]);
  const controller = new AbortController();
  try {
    assert.equal(await a.attemptToAcquireLeader(), true);
    let resets = 0;
    observer.watch((await observer.loadCluster()).revision, (event) => (resets += event.kind === 'reset' ? 1 : 0), controller.signal);
    await waitFor(async () => (await readAfterKeepalive(observer)).cached, 5_000, 'a read served from the copy');
    assert.equal((await readAfterKeepalive(observer)).leader, 'a');

    await fixture.cluster.stopMember(0);
    assert.equal(await a.deleteLeader(), true);
    assert.equal(await b.attemptToAcquireLeader(), true);
    for (let i = 0; i < 5; i++) await raw.put(`${b.keys.prefix}noise`, String(i));
    const now = (await raw.range(b.keys.prefix, { prefix: true })).revision;
    const compacted = await fetch(`http://${others[0]?.host}:${others[0]?.port}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(now), physical: true }),
    });
    assert.equal(compacted.status, 200, await compacted.text());
    await fixture.cluster.startMember(0);
    // The watch comes back from a compacted revision and restarts from the current one: the copy
    // it fed (leader a) is now out of date and must not be served.
    await waitFor(() => resets > 0, 15_000, 'the watch to restart after the compaction');
    for (let i = 0; i < 20; i++) {
      const read = await readAfterKeepalive(observer);
      assert.equal(read.leader, 'b', `read ${i} after the restart shows ${read.leader}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // And the copy is used again once the watch is back (restarted from the current revision).
    await waitFor(async () => (await readAfterKeepalive(observer)).cached, 10_000, 'reads served from the copy again');
    assert.equal((await readAfterKeepalive(observer)).leader, 'b');
  } finally {
    controller.abort();
    raw.close();
  }
});

test("a leader's read (provenSinceMs) takes the keepalive just sent as its proof, and sends a linearizable read only without one", async () => {
  const scope = freshScope('proven');
  const dcs = fixture.dcs('a', { scope, ttlS: 30 });
  await dcs.createLease(30);
  const controller = new AbortController();
  const sent: string[] = [];
  const stopObserving = observeEtcdRequests((operation) => sent.push(operation));
  try {
    assert.equal(await dcs.attemptToAcquireLeader(), true);
    dcs.watch((await dcs.loadCluster()).revision, () => undefined, controller.signal);
    await waitFor(async () => (await readAfterKeepalive(dcs)).cached, 5_000, 'a read served from the copy');
    const readCluster = (dcs.readCluster as NonNullable<typeof dcs.readCluster>).bind(dcs);

    // The leader's cycle: a keepalive, then the read asking for a proof from the cycle's start.
    const cycleStartMs = performance.now();
    assert.equal(await dcs.refreshLease(), true);
    sent.length = 0;
    const proven = await readCluster(10_000, cycleStartMs);
    assert.deepEqual(sent, [], 'nothing asked of etcd beyond the keepalive');
    assert.equal(proven.view.leader?.name, 'a');
    assert.ok(proven.currentAtMs >= cycleStartMs, 'current as of the keepalive sent in this cycle');

    // No keepalive since the cycle began (it granted a new lease, or found ours expired): one
    // linearizable read of the leader key is the proof.
    const laterMs = performance.now();
    sent.length = 0;
    const read = await readCluster(10_000, laterMs);
    assert.deepEqual(sent, ['kv/range'], 'one read');
    assert.equal(read.view.leader?.name, 'a');
    assert.ok(read.currentAtMs >= laterMs, 'current as of that read');
  } finally {
    stopObserving();
    controller.abort();
  }
});
