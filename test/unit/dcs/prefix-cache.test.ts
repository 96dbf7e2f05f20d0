/**
 * The watch-fed copy of the cluster prefix (src/dcs/prefix-cache.ts): it serves a view only while
 * a watch keeps it current and only when it is complete through the revision a keepalive proved,
 * and any break in the event sequence drops it. The randomized test replays histories of puts,
 * deletes, transactions, watch breaks, restarts and compactions against a model of etcd and
 * checks that every view served is the prefix's exact state at a revision no older than the proof.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixCache } from '../../../src/dcs/prefix-cache.js';
import type { KeyValue, WatchEventKv } from '../../../src/engine/etcd/etcd-wire.js';

const kv = (key: string, value: string, modRevision: number): KeyValue => ({ key, value, createRevision: modRevision, modRevision, version: 1, lease: null });
const put = (key: string, value: string, revision: number): WatchEventKv => ({ type: 'PUT', kv: kv(key, value, revision) });
const del = (key: string, revision: number): WatchEventKv => ({ type: 'DELETE', kv: kv(key, '', revision) });
const state = (cache: PrefixCache, proven: number): Record<string, string> | null => {
  const read = cache.read(proven);
  return read === null ? null : Object.fromEntries(read.kvs.map((k) => [k.key, k.value]).sort());
};

test('serves nothing until seeded and fed by a watch; then the state through the proven revision', () => {
  const cache = new PrefixCache();
  assert.equal(cache.read(0), null, 'empty');
  cache.seed([kv('leader', 'n1', 5), kv('members/n1', 'a', 4)], 5);
  assert.equal(cache.read(5), null, 'seeded but no watch keeps it current');
  cache.watchStarted(5);
  assert.deepEqual(state(cache, 5), { leader: 'n1', 'members/n1': 'a' });
  cache.apply([del('leader', 6)]);
  cache.apply([put('leader', 'n2', 7)]);
  assert.deepEqual(state(cache, 7), { leader: 'n2', 'members/n1': 'a' });
  assert.equal(cache.read(8), null, 'etcd moved past the copy: not served');
  cache.watchStopped();
  assert.equal(cache.read(7), null, 'no watch: not served, however recent the proof');
});

test('all events of one revision (a transaction) are applied; events already held are skipped', () => {
  const cache = new PrefixCache();
  cache.seed([kv('a', '1', 3)], 3);
  cache.watchStarted(2); // a stream started before the seed redelivers revision 3
  cache.apply([put('a', 'old', 3), put('b', 'x', 4), put('c', 'y', 4), del('a', 4)]);
  assert.deepEqual(state(cache, 4), { b: 'x', c: 'y' });
});

test('a stream starting after the copy ends, or a seed older than the stream, leaves no copy', () => {
  const cache = new PrefixCache();
  cache.seed([kv('a', '1', 3)], 3);
  cache.watchStarted(3);
  cache.watchStopped();
  cache.watchStarted(9); // restarted "from now" after a compaction: revisions 4..9 unseen
  cache.apply([put('a', '2', 10)]);
  assert.equal(cache.read(10), null, 'a gap: nothing served');
  cache.seed([kv('a', '1', 3)], 7); // a read that was in flight before the stream started
  assert.equal(cache.read(7), null, 'a seed older than the stream start leaves a gap too');
  cache.seed([kv('a', '2', 10)], 10);
  assert.deepEqual(state(cache, 10), { a: '2' });
});

test('a seed older than the copy is ignored (the watch was ahead of a read in flight)', () => {
  const cache = new PrefixCache();
  cache.seed([kv('a', '1', 3)], 3);
  cache.watchStarted(3);
  cache.apply([put('a', '2', 5)]);
  cache.seed([kv('a', '1', 3)], 4);
  assert.deepEqual(state(cache, 5), { a: '2' });
});

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('randomized histories: every view served is the exact state at a revision no older than the proof', () => {
  const keys = ['leader', 'sync', 'members/n1', 'members/n2', 'status'];
  for (let seed = 1; seed <= 2000; seed++) {
    const random = rng(seed);
    // The model: etcd's history of the prefix, revision by revision (foreign revisions touch nothing here).
    const history: { revision: number; events: WatchEventKv[] }[] = [];
    const states = new Map<number, Map<string, string>>([[1, new Map()]]);
    let revision = 1;
    let compacted = 1;
    const cache = new PrefixCache();
    // The feeding stream: delivers history after `streamAt`, up to what it has sent so far.
    let streamAt: number | null = null;
    const stateAt = (r: number): Map<string, string> => {
      for (let x = r; x >= 1; x--) {
        const s = states.get(x);
        if (s !== undefined) return s;
      }
      return new Map();
    };
    for (let step = 0; step < 60; step++) {
      const roll = random();
      if (roll < 0.35) {
        // a write (sometimes a transaction of two keys, sometimes a foreign revision)
        revision += 1;
        if (random() < 0.15) continue;
        const next = new Map(stateAt(revision - 1));
        const events: WatchEventKv[] = [];
        for (let n = random() < 0.2 ? 2 : 1; n > 0; n--) {
          const key = keys[Math.floor(random() * keys.length)] as string;
          if (random() < 0.3 && next.has(key)) {
            next.delete(key);
            events.push(del(key, revision));
          } else {
            const value = `v${revision}-${n}`;
            next.set(key, value);
            events.push(put(key, value, revision));
          }
        }
        history.push({ revision, events });
        states.set(revision, next);
      } else if (roll < 0.55 && streamAt !== null) {
        // the stream delivers what it has not delivered yet (one response per revision)
        for (const entry of history.filter((h) => h.revision > (streamAt as number))) cache.apply(entry.events);
        streamAt = revision;
      } else if (roll < 0.62 && streamAt !== null) {
        streamAt = null;
        cache.watchStopped();
      } else if (roll < 0.7 && streamAt === null) {
        // reconnect from the last delivered revision, or "from now" when that was compacted
        const from = cache.revision > 0 && cache.revision >= compacted ? cache.revision : revision;
        streamAt = from;
        cache.watchStarted(from);
      } else if (roll < 0.75) {
        compacted = revision;
      } else if (roll < 0.85) {
        // a full read at the current revision (or one that was in flight a little earlier)
        const at = Math.max(1, revision - (random() < 0.3 ? 1 : 0));
        cache.seed(
          [...stateAt(at)].map(([k, v]) => kv(k, v, at)),
          at,
        );
      } else {
        // a read with a keepalive proof from some recent revision
        const proven = Math.max(1, revision - Math.floor(random() * 3));
        const read = cache.read(proven);
        if (read === null) continue;
        assert.ok(read.revision >= proven, `seed ${seed}: served a copy at ${read.revision} older than the proof ${proven}`);
        const expected = Object.fromEntries([...stateAt(read.revision)].sort());
        const got = Object.fromEntries(read.kvs.map((k) => [k.key, k.value]).sort());
        assert.deepEqual(got, expected, `seed ${seed} step ${step}: the copy at ${read.revision} is not etcd's state then`);
      }
    }
  }
});
