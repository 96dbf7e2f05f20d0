/**
 * EtcdDcs against a real single-member etcd 3.4: the leader-election primitives (create-only
 * race, keep, delete, expiry with the lease), compare-and-swap writes, the member key's exact
 * bytes, lease handling, and the watch (changes, compaction reset).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient } from '../../../src/engine/etcd/etcd-client.js';
import type { WatchEvent } from '../../../src/dcs/types.js';
import { freshScope, startFixture, waitFor, type EtcdFixture } from './etcd-fixture.js';

let fixture: EtcdFixture;
let raw: EtcdClient;

before(async () => {
  fixture = await startFixture(1, 'single');
  raw = new EtcdClient({ endpoints: fixture.cluster.endpoints, requestTimeoutMs: 5_000 });
});

after(async () => {
  raw?.close();
  await fixture?.teardown();
});

test('exactly one of two agents racing for the leader key wins, every round', async () => {
  const scope = freshScope('race');
  const a = fixture.dcs('a', { scope, ttlS: 10 });
  const b = fixture.dcs('b', { scope, ttlS: 10 });
  await Promise.all([a.createLease(10), b.createLease(10)]);
  for (let round = 0; round < 10; round++) {
    const [wonA, wonB] = await Promise.all([a.attemptToAcquireLeader(), b.attemptToAcquireLeader()]);
    assert.equal(Number(wonA) + Number(wonB), 1, `round ${round}: a=${wonA} b=${wonB}`);
    const winner = wonA ? a : b;
    const loser = wonA ? b : a;
    const view = await loser.loadCluster();
    assert.equal(view.leader?.name, winner.name);
    assert.equal(view.leader?.leaseId, winner.leaseId);
    assert.equal(await loser.updateLeader(), false, 'the loser cannot keep a key it does not hold');
    assert.equal(await loser.deleteLeader(), false, 'the loser cannot delete the winner key');
    assert.equal(await winner.updateLeader(), true);
    assert.equal(await winner.attemptToAcquireLeader(), true, 'a retried acquire of our own key reports success');
    assert.equal(await winner.deleteLeader(), true);
    assert.equal((await loser.loadCluster()).leader, null);
  }
});

test('the leader key disappears with the lease once keepalives stop, and refreshLease then says so', async () => {
  const scope = freshScope('expiry');
  const leader = fixture.dcs('n1', { scope, ttlS: 2 });
  const observer = fixture.dcs('n2', { scope });
  assert.equal(await leader.refreshLease(), true, 'creates a lease when there is none');
  assert.equal(await leader.attemptToAcquireLeader(), true);
  await leader.touchMember({
    connUrl: 'postgres://127.0.0.1:5432/postgres',
    apiUrl: 'http://127.0.0.1:8008/patroni',
    state: 'running',
    role: 'master',
    version: '3.0.2',
    tags: {},
  });
  assert.equal(await leader.refreshLease(), true);
  const started = performance.now();
  await waitFor(async () => (await observer.loadCluster()).leader === null, 10_000, 'the leader key to expire');
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs >= 1_000, `expired too early (${Math.round(elapsedMs)} ms after a keepalive with ttl 2 s)`);
  const view = await observer.loadCluster();
  assert.deepEqual(view.members, [], 'the member key went with the lease');
  assert.equal(await leader.refreshLease(), false, 'keepalive of an expired lease reports it');
  assert.equal(leader.currentLeaseId(), null);
  assert.equal(await leader.updateLeader(), false, 'the key is gone, so it cannot be kept');
  assert.equal(await leader.attemptToAcquireLeader(), true, 'a new lease is granted and the key can be taken again');
});

test('config, failover and sync are compare-and-swap on mod_revision; initialize is create-only', async () => {
  const scope = freshScope('cas');
  const dcs = fixture.dcs('n1', { scope });
  assert.equal(await dcs.setConfig({ ttl: 30 }, null), true);
  assert.equal(await dcs.setConfig({ ttl: 31 }, null), false, 'create-only refuses an existing key');
  const first = (await dcs.loadCluster()).config;
  assert.ok(first !== null);
  assert.equal(await dcs.setConfig({ ttl: 40 }, first.modRevision), true);
  assert.equal(await dcs.setConfig({ ttl: 50 }, first.modRevision), false, 'a stale mod_revision is rejected');
  assert.deepEqual((await dcs.loadCluster()).config?.value, { ttl: 40 });

  assert.equal(await dcs.setFailover({ leader: 'n1', candidate: 'n2' }, null), true);
  const failover = (await dcs.loadCluster()).failover;
  assert.deepEqual(failover?.value, { leader: 'n1', candidate: 'n2' });
  assert.equal(await dcs.deleteFailover((failover?.modRevision ?? 0) - 1), false);
  assert.equal(await dcs.deleteFailover(failover?.modRevision ?? 0), true);
  assert.equal((await dcs.loadCluster()).failover, null);

  assert.equal(await dcs.setSync({ leader: 'n1', syncStandbys: ['n3', 'n2'], quorum: 1 }, null), true);
  const sync = (await dcs.loadCluster()).sync;
  assert.deepEqual(sync?.value, { leader: 'n1', syncStandbys: ['n2', 'n3'], quorum: 1 });
  assert.equal(await dcs.setSync({ leader: 'n1', syncStandbys: [], quorum: 0 }, (sync?.modRevision ?? 0) + 100), false);
  assert.equal(await dcs.deleteSync(sync?.modRevision ?? 0), true);
  assert.equal(await dcs.deleteSync(null), true);

  assert.equal(await dcs.initialize('', true), true);
  assert.equal(await dcs.initialize('', true), false);
  assert.equal(await dcs.initialize('7234567890123456789', false), true);
  assert.equal((await dcs.loadCluster()).initialize, '7234567890123456789');
  await dcs.cancelInitialization();
  assert.equal((await dcs.loadCluster()).initialize, null);
});

test('the member key is byte-for-byte Patroni json.dumps(separators=(",", ":")) and attached to the lease', async () => {
  const scope = freshScope('member');
  const dcs = fixture.dcs('pg-1', { scope, ttlS: 10 });
  await dcs.touchMember({
    connUrl: 'postgres://10.0.0.1:5432/postgres',
    apiUrl: 'http://10.0.0.1:8008/patroni',
    state: 'running',
    role: 'replica',
    version: '3.0.2',
    xlogLocation: 50331808,
    timeline: 2,
    tags: { nofailover: false, clonefrom: true },
  });
  const stored = await raw.range(`/service/${scope}/members/pg-1`);
  assert.equal(stored.kvs.length, 1);
  assert.equal(
    stored.kvs[0]?.value,
    '{"conn_url":"postgres://10.0.0.1:5432/postgres","api_url":"http://10.0.0.1:8008/patroni","state":"running","role":"replica","version":"3.0.2","tags":{"nofailover":false,"clonefrom":true},"xlog_location":50331808,"timeline":2}',
  );
  assert.equal(stored.kvs[0]?.lease, dcs.leaseId);
  assert.ok(dcs.leaseId !== null && /^\d+$/.test(dcs.leaseId));

  const view = await dcs.loadCluster();
  const member = view.members[0];
  assert.equal(member?.name, 'pg-1');
  assert.equal(member?.xlogLocation, 50331808);
  // An identical touch right after a load is skipped (no new revision), like Patroni's deep_compare.
  const before = stored.kvs[0]?.modRevision;
  await dcs.touchMember({
    connUrl: 'postgres://10.0.0.1:5432/postgres',
    apiUrl: 'http://10.0.0.1:8008/patroni',
    state: 'running',
    role: 'replica',
    version: '3.0.2',
    xlogLocation: 50331808,
    timeline: 2,
    tags: { nofailover: false, clonefrom: true },
  });
  assert.equal((await raw.range(`/service/${scope}/members/pg-1`)).kvs[0]?.modRevision, before);

  await dcs.revokeLease();
  assert.equal((await dcs.loadCluster()).members.length, 0, 'revoking the lease removes the member key');
});

test('a ttl change moves the leader key onto the new lease (Patroni re-puts it in _update_leader)', async () => {
  const scope = freshScope('ttl');
  const dcs = fixture.dcs('n1', { scope, ttlS: 10 });
  assert.equal(await dcs.attemptToAcquireLeader(), true);
  const oldLease = dcs.leaseId;
  dcs.setTtl(20);
  assert.equal(await dcs.refreshLease(), true);
  assert.notEqual(dcs.leaseId, oldLease);
  assert.equal(await dcs.updateLeader(), true);
  const view = await dcs.loadCluster();
  assert.equal(view.leader?.leaseId, dcs.leaseId);
  const ttl = await raw.leaseTimeToLive(dcs.leaseId ?? '0');
  assert.equal(ttl.grantedTtlS, 20);
  assert.equal(await raw.leaseRevoke(oldLease ?? '0'), true);
  assert.equal(await raw.leaseRevoke(oldLease ?? '0'), false, 'revoking an unknown lease reports false');
});

test('status, failsafe and history round-trip; identical status writes are skipped', async () => {
  const scope = freshScope('status');
  const dcs = fixture.dcs('n1', { scope });
  await dcs.writeStatus({ optime: 67108864, slots: { n2: 67108864 } });
  await dcs.writeFailsafe({ n1: 'http://127.0.0.1:8008/patroni' });
  await dcs.setHistory([{ timeline: 1, lsn: 50331808, reason: 'no recovery target specified', timestamp: '2024-01-02T03:04:05+00:00', newLeader: 'n1' }]);
  const view = await dcs.loadCluster();
  assert.deepEqual(view.status, { optime: 67108864, slots: { n2: 67108864 } });
  assert.deepEqual(view.failsafe, { n1: 'http://127.0.0.1:8008/patroni' });
  assert.equal(view.history?.value[0]?.newLeader, 'n1');
  assert.equal((await raw.range(`/service/${scope}/status`)).kvs[0]?.value, '{"optime":67108864,"slots":{"n2":67108864}}');
  const revision = view.revision;
  await dcs.writeStatus({ optime: 67108864, slots: { n2: 67108864 } });
  assert.equal((await dcs.loadCluster()).revision, revision);
});

test('watch reports changes under the cluster prefix within a bound, not before fromRevision', async () => {
  const scope = freshScope('watch');
  const writer = fixture.dcs('n1', { scope });
  const watcher = fixture.dcs('n2', { scope });
  await writer.setConfig({ ttl: 30 }, null);
  const view = await watcher.loadCluster();
  const events: WatchEvent[] = [];
  const controller = new AbortController();
  try {
    watcher.watch(view.revision, (event) => events.push(event), controller.signal);
    const started = performance.now();
    await writer.attemptToAcquireLeader();
    await waitFor(() => events.some((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.leader)), 5_000, 'a watch event for the leader key');
    assert.ok(performance.now() - started < 5_000);
    const put = events.find((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.leader));
    assert.ok(put?.kind === 'changed' && put.created.includes(watcher.keys.leader) && put.deleted.length === 0, 'a created key, not a deleted one');
    assert.ok(!events.some((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.config)), 'the config write before fromRevision is not reported');
    await writer.deleteLeader();
    await waitFor(() => events.filter((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.leader)).length >= 2, 5_000, 'the delete event');
    const deletion = events.filter((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.leader))[1];
    assert.ok(deletion?.kind === 'changed' && deletion.deleted.includes(watcher.keys.leader), 'the delete event names the deleted key');
  } finally {
    controller.abort();
  }
});

test('watch from a compacted revision reports reset and then follows new changes', async () => {
  const scope = freshScope('compact');
  const writer = fixture.dcs('n1', { scope });
  const watcher = fixture.dcs('n2', { scope });
  const old = (await watcher.loadCluster()).revision;
  await writer.setConfig({ a: 1 }, null);
  await writer.writeStatus({ optime: 1, slots: {} });
  const now = (await watcher.loadCluster()).revision;
  await compact(now);
  const events: WatchEvent[] = [];
  const controller = new AbortController();
  try {
    watcher.watch(old, (event) => events.push(event), controller.signal);
    await waitFor(() => events.some((e) => e.kind === 'reset'), 5_000, 'a reset after compaction');
    await writer.writeStatus({ optime: 2, slots: {} });
    await waitFor(() => events.some((e) => e.kind === 'changed' && e.keys.includes(watcher.keys.status)), 5_000, 'a change after the reset');
  } finally {
    controller.abort();
  }
});

async function compact(revision: number): Promise<void> {
  const endpoint = fixture.cluster.endpoints[0];
  assert.ok(endpoint !== undefined);
  const res = await fetch(`http://${endpoint.host}:${endpoint.port}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: String(revision), physical: true }),
  });
  assert.equal(res.status, 200, await res.text());
}
