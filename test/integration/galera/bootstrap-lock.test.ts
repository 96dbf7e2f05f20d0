/**
 * The bootstrap lock's transaction against a real etcd: the create-only lock succeeds once, and
 * the range compare (mod_revision of every key under a prefix below the decision's revision + 1)
 * fails when a position was written after the read the decision was made on — the guard against
 * a second bootstrap decided on a stale view.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient } from '../../../src/engine/etcd/etcd-client.js';
import { encodeCompare } from '../../../src/engine/etcd/etcd-wire.js';
import { type EtcdFixture, freshScope, startFixture } from '../dcs/etcd-fixture.js';

let fixture: EtcdFixture;
let client: EtcdClient;

before(async () => {
  fixture = await startFixture(1, 'kg-lock');
  client = new EtcdClient({ endpoints: fixture.cluster.endpoints, requestTimeoutMs: 5_000 });
});

after(async () => {
  client.close();
  await fixture.teardown();
});

function lockTxn(prefix: string, revision: number, holder: string) {
  return client.txn({
    compare: [
      { key: `${prefix}bootstrap-lock`, target: 'CREATE', createRevision: 0 },
      { key: `${prefix}positions/`, target: 'MOD', modRevision: revision + 1, result: 'LESS', prefix: true },
    ],
    success: [{ put: { key: `${prefix}bootstrap-lock`, value: holder } }],
  });
}

test('the range compare encodes etcd range_end', () => {
  assert.deepEqual(encodeCompare({ key: '/a/', target: 'MOD', modRevision: 5, result: 'LESS', prefix: true }), {
    key: 'L2Ev',
    target: 'MOD',
    result: 'LESS',
    mod_revision: '5',
    range_end: Buffer.from('/a0').toString('base64'),
  });
});

test('a position written after the decision read makes the lock transaction fail', async () => {
  const prefix = `/service/${freshScope('lock')}/galera/`;
  await client.put(`${prefix}positions/a`, '{"seqno":10}');
  const read = await client.range(prefix, { prefix: true });
  await client.put(`${prefix}positions/b`, '{"seqno":12}');
  assert.equal((await lockTxn(prefix, read.revision, 'a')).succeeded, false, 'stale view: no lock');
  assert.equal((await client.range(`${prefix}bootstrap-lock`)).kvs.length, 0);
  const fresh = await client.range(prefix, { prefix: true });
  assert.equal((await lockTxn(prefix, fresh.revision, 'b')).succeeded, true, 'current view: the lock is taken');
  assert.equal((await lockTxn(prefix, (await client.range(prefix, { prefix: true })).revision, 'c')).succeeded, false, 'only once');
});

test('an empty positions prefix does not block the lock', async () => {
  const prefix = `/service/${freshScope('lock-empty')}/galera/`;
  const read = await client.range(prefix, { prefix: true });
  assert.equal((await lockTxn(prefix, read.revision, 'a')).succeeded, true);
});
