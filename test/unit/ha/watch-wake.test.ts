import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterKeys } from '../../../src/patroni/dcs-layout.js';
import { watchEventWakes } from '../../../src/ha/watch-wake.js';
import type { WatchEvent } from '../../../src/dcs/types.js';

const keys = clusterKeys('/service/', 'demo');
const changed = (keys: string[], created: string[] = []): WatchEvent => ({ kind: 'changed', keys, created, deleted: [] });

test('the cluster-wide keys wake every member; a reset wakes too', () => {
  for (const key of ['leader', 'config', 'failover', 'initialize']) {
    assert.equal(watchEventWakes(changed([`/service/demo/${key}`]), keys, false), true, key);
  }
  assert.equal(watchEventWakes({ kind: 'reset' }, keys, false), true);
  assert.equal(watchEventWakes(changed(['/service/demo/status', '/service/demo/sync', '/service/demo/history']), keys, true), false);
});

test('a member named like a cluster-wide key ("leader", "config") does not wake anyone when its key changes', () => {
  for (const name of ['leader', 'config', 'failover', 'initialize']) {
    assert.equal(watchEventWakes(changed([`/service/demo/members/${name}`]), keys, false), false, name);
  }
  // The same names in another cluster's prefix (a scope that ends like ours) do not count either.
  assert.equal(watchEventWakes(changed(['/service/demo2/leader']), keys, false), false);
});

test('a member key that appears wakes the leader only', () => {
  const appeared = changed(['/service/demo/members/node3'], ['/service/demo/members/node3']);
  assert.equal(watchEventWakes(appeared, keys, true), true);
  assert.equal(watchEventWakes(appeared, keys, false), false);
  // A member key rewritten (not created) does not wake the leader either.
  assert.equal(watchEventWakes(changed(['/service/demo/members/node3']), keys, true), false);
});

test('a scope named "members" keeps its own leader key', () => {
  const own = clusterKeys('/service/', 'members');
  assert.equal(watchEventWakes(changed(['/service/members/leader']), own, false), true);
  assert.equal(watchEventWakes(changed(['/service/members/members/leader']), own, false), false);
});
