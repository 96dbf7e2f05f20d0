/**
 * The isolation watch's two ways of probing (src/ha/isolation-watch.ts): through keel-fence when
 * the DCS gives its read as bytes and keel-fence runs the probe, else from the agent itself. Checked
 * with an agent context on a hand-driven clock, a DCS that counts its reads and a keel-fence port
 * that records what it was asked and hands reports back as keel-fence would.
 */
import { test } from 'node:test';
import { lookup } from 'node:dns/promises';
import assert from 'node:assert/strict';
import { IsolationWatch } from '../../../src/ha/isolation-watch.js';
import type { AgentContext } from '../../../src/ha/context.js';
import { numericAddresses, type IsolationProbeReport, type IsolationProbeSettings } from '../../../src/engine/process-fence.js';

function agent(options: { bytes: boolean; keelFence: boolean }) {
  let nowMs = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const aimed: (IsolationProbeSettings | null)[] = [];
  let report: ((r: IsolationProbeReport) => void) | null = null;
  let running = false;
  let probeStopped: (() => void) | null = null;
  const reads: number[] = [];
  const fences: string[] = [];
  /** What the DCS gives as its quorum read (tests change it: a renewed token, another endpoint first). */
  const read = { endpoints: [{ host: '127.0.0.1', port: 2379 }], request: 'POST /v3/kv/range' };
  const a = {
    ports: {
      clock: {
        now: () => nowMs,
        timer: (ms: number, fn: () => void) => {
          const entry = { at: nowMs + ms, fn };
          timers.push(entry);
          return () => {
            const at = timers.indexOf(entry);
            if (at >= 0) timers.splice(at, 1); // a timer that already ran is gone
          };
        },
      },
      dcs: {
        reachQuorum: async () => {
          reads.push(nowMs);
          return true;
        },
        // A new object each call, as a client that does not keep its last answer would give.
        ...(options.bytes ? { quorumReadRequest: () => ({ endpoints: [...read.endpoints], request: Buffer.from(read.request) }) } : {}),
      },
      processFence: {
        ...(options.keelFence
          ? {
              probe: (settings: IsolationProbeSettings | null, onReport: (r: IsolationProbeReport) => void) => {
                aimed.push(settings);
                report = onReport;
                running = settings !== null;
              },
              probeRunning: () => running,
              onProbeStopped: (listener: () => void) => {
                probeStopped = listener;
              },
            }
          : {}),
      },
      peers: { reachable: async () => true },
    },
    local: () => ({ name: 'node1' }),
    cluster: {
      view: {
        leader: { name: 'node1' },
        members: [
          { name: 'node1', apiUrl: 'http://127.0.0.1:8008' },
          { name: 'node2', apiUrl: 'http://127.0.0.2:8008' },
          { name: 'node3', apiUrl: 'http://localhost:8010' },
        ],
      },
    },
    pg: {
      probe: { inRecovery: false },
      fenced: false,
      writeConfig: async () => undefined,
      node: { reload: async () => undefined },
    },
    tasks: { current: () => null },
    lease: { setFenceInPlace: () => undefined },
    metrics: { fenced: () => fences.push('metric') },
    log: { debug: () => undefined, info: () => undefined, warning: (line: string) => fences.push(line), error: () => undefined },
    wake: () => undefined,
  };
  /** Runs every timer due up to `ms` later, letting each round's promises settle. */
  const advance = async (ms: number): Promise<void> => {
    const until = nowMs + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      timers.sort((x, y) => x.at - y.at);
      const next = timers[0];
      if (next === undefined || next.at > until) break;
      timers.shift();
      nowMs = next.at;
      next.fn();
    }
    nowMs = until;
    await new Promise((r) => setImmediate(r));
  };
  const ctx = a as unknown as AgentContext;
  /** keel-fence stops (killed, or refusing) or runs the probe again; a stop is told to the watch. */
  const setRunning = (on: boolean): void => {
    running = on;
    if (!on) probeStopped?.();
  };
  return { a: ctx, raw: a, read, advance, aimed, reads, fences, timers, setRunning, report: (r: IsolationProbeReport) => report?.(r) };
}

/** `ms` of time with an HA cycle ending every `loopWaitMs` (each pokes the watch), from now. */
async function cycles(t: ReturnType<typeof agent>, watch: IsolationWatch, ms: number, loopWaitMs = 2_000): Promise<void> {
  for (let left = ms; left > 0; left -= loopWaitMs) {
    watch.poke();
    await t.advance(Math.min(left, loopWaitMs));
  }
}

/** A leader whose keel-fence runs the probe: the watch started and `ms` of cycles run, keel-fence aimed once. */
async function probingLeader(ms: number): Promise<{ t: ReturnType<typeof agent>; watch: IsolationWatch }> {
  const t = agent({ bytes: true, keelFence: true });
  const watch = new IsolationWatch(t.a);
  watch.start();
  await cycles(t, watch, ms);
  assert.equal(t.aimed.length, 1, 'keel-fence aimed once, not on every check');
  return { t, watch };
}

test('keel-fence probes when it can: the agent does not read etcd itself, and a reported isolation fences', async () => {
  const t = agent({ bytes: true, keelFence: true });
  const watch = new IsolationWatch(t.a);
  watch.start();
  await cycles(t, watch, 5_000);
  assert.equal(t.aimed.length, 1, 'aimed once, not on every check');
  const settings = t.aimed[0];
  assert.ok(settings !== null && settings !== undefined);
  assert.deepEqual(settings.etcd, [{ host: '127.0.0.1', port: 2379 }]);
  assert.deepEqual(
    settings.members,
    [
      { host: '127.0.0.2', port: 8008 },
      { host: 'localhost', port: 8010 },
    ],
    'the other members',
  );
  assert.ok(t.reads.length <= 1, `the agent read etcd ${t.reads.length} times in 5 s while keel-fence probed`);

  t.report({ etcdAnswered: false, peers: 2, peersAnswered: 1, etcdStatus: 0, roundMs: 400 });
  await t.advance(10);
  assert.equal(t.raw.pg.fenced, false, 'a member answered: not isolated');
  t.report({ etcdAnswered: false, peers: 2, peersAnswered: 0, etcdStatus: 0, roundMs: 400 });
  await t.advance(10);
  assert.equal(t.raw.pg.fenced, true, 'neither etcd nor a member answered: fenced at once');
  assert.ok(watch.isolatedSinceMs !== null);
  t.report({ etcdAnswered: true, peers: 2, peersAnswered: 0, etcdStatus: 200, roundMs: 3 });
  await t.advance(10);
  assert.equal(watch.isolatedSinceMs, null, 'the first healthy round ends the isolation');

  // No longer the leader: the probe is stopped at the next cycle's end.
  t.raw.cluster.view.leader.name = 'node2';
  await cycles(t, watch, 2_000);
  assert.equal(t.aimed.at(-1), null, 'the probe was not stopped after the leadership went');
  assert.equal(t.timers.length, 0, 'a watch with nothing to watch sets no timer');
  watch.stop();
});

test('keel-fence is aimed again when the read, the endpoint order or a member changes, and only then', async () => {
  const { t, watch } = await probingLeader(3_000);
  t.read.request = 'POST /v3/kv/range\r\nauthorization: renewed';
  await cycles(t, watch, 1_500);
  assert.equal(t.aimed.length, 2, 'a renewed token is a new request');
  assert.equal(t.aimed[1]?.request.toString(), t.read.request);
  t.read.endpoints = [{ host: '127.0.0.3', port: 2379 }, ...t.read.endpoints];
  await cycles(t, watch, 1_500);
  assert.equal(t.aimed.length, 3, 'another endpoint first');
  assert.deepEqual(t.aimed[2]?.etcd[0], { host: '127.0.0.3', port: 2379 });
  const node2 = t.raw.cluster.view.members[1];
  assert.ok(node2 !== undefined);
  node2.apiUrl = 'http://127.0.0.2:8009';
  await cycles(t, watch, 1_500);
  assert.equal(t.aimed.length, 4, 'a member moved');
  assert.deepEqual(t.aimed[3]?.members[0], { host: '127.0.0.2', port: 8009 });
  await cycles(t, watch, 3_000);
  assert.equal(t.aimed.length, 4, 'nothing changed since');
  watch.stop();
});

test('while keel-fence probes, the agent sets no timer; it probes itself at once when keel-fence stops, until it runs again', async () => {
  const { t, watch } = await probingLeader(4_000);
  const before = t.reads.length;
  await t.advance(10_000); // a long loop_wait: no cycle ends
  assert.equal(t.reads.length, before, 'the agent read etcd itself while keel-fence probed');
  assert.equal(t.timers.length, 0, 'a timer was left running while keel-fence probed');

  t.setRunning(false); // keel-fence killed: no cycle ends meanwhile
  await t.advance(2_000);
  assert.ok(t.reads.length - before >= 4, `only ${t.reads.length - before} reads by the agent in 2 s without keel-fence`);
  t.setRunning(true); // started again, the probe re-sent and accepted
  await t.advance(1_000);
  const after = t.reads.length;
  await t.advance(5_000);
  assert.equal(t.reads.length, after, 'the agent kept probing itself once keel-fence ran the probe again');
  watch.stop();
});

test('a refusal by etcd reported by keel-fence: the token is renewed and the probe re-aimed without waiting for a cycle', async () => {
  const { t, watch } = await probingLeader(2_000);
  t.read.request = 'POST /v3/kv/range\r\nauthorization: renewed'; // what the renewing read leaves
  t.report({ etcdAnswered: false, peers: 2, peersAnswered: 2, etcdStatus: 401, roundMs: 3 });
  await t.advance(10);
  assert.equal(t.aimed.length, 2, 'not re-aimed after the token was renewed');
  assert.equal(t.aimed[1]?.request.toString(), t.read.request);
  watch.stop();
});

test('a node that does not lead sets no timer; the end of the cycle that makes it leader starts the watch', async () => {
  const t = agent({ bytes: false, keelFence: false });
  t.raw.cluster.view.leader.name = 'node2';
  const watch = new IsolationWatch(t.a);
  watch.start();
  await t.advance(10_000);
  assert.equal(t.timers.length, 0);
  assert.equal(t.reads.length, 0);
  t.raw.cluster.view.leader.name = 'node1';
  watch.poke();
  await t.advance(1_000);
  assert.ok(t.reads.length >= 2, `only ${t.reads.length} reads in the first second of leading`);
  watch.stop();
});

test('no bytes for keel-fence (https) or no keel-fence (the simulator): the agent probes every 400 ms itself', async () => {
  for (const options of [
    { bytes: false, keelFence: true },
    { bytes: true, keelFence: false },
  ]) {
    const t = agent(options);
    const watch = new IsolationWatch(t.a);
    watch.start();
    await t.advance(4_000);
    assert.ok(t.reads.length >= 8, `${JSON.stringify(options)}: only ${t.reads.length} reads by the agent in 4 s`);
    assert.deepEqual(
      t.aimed.filter((s) => s !== null),
      [],
    );
    watch.stop();
  }
});

test('keel-fence is given numeric addresses: numeric ones kept, names resolved, IPv6 bracketed', async () => {
  const localhost = (await lookup('localhost')).address;
  assert.deepEqual(
    await numericAddresses([
      { host: '10.0.0.7', port: 2379 },
      { host: 'fd00::7', port: 8008 },
      { host: 'localhost', port: 8010 },
    ]),
    ['10.0.0.7:2379', '[fd00::7]:8008', localhost.includes(':') ? `[${localhost}]:8010` : `${localhost}:8010`],
  );
});

/** A leader probing itself (https etcd) whose pg_wal can be watched: the watch armed is handed to the test. */
function quietCapable(lsn: { value: number }) {
  const t = agent({ bytes: false, keelFence: false });
  const armed: { onWrite: (() => void) | null; arms: number; stops: number } = { onWrite: null, arms: 0, stops: 0 };
  Object.assign(t.raw.ports, {
    nextWalWrite: (onWrite: () => void) => {
      armed.arms += 1;
      // fires once, and is gone then (as fs.watch closed at its first event)
      armed.onWrite = () => {
        armed.onWrite = null;
        onWrite();
      };
      return () => {
        armed.stops += 1;
        armed.onWrite = null;
      };
    },
  });
  // each cycle's observation is a new probe (the watch counts probes, not pokes)
  Object.defineProperty(t.raw.pg, 'probe', { get: () => ({ inRecovery: false, currentLsn: lsn.value }) });
  return { t, armed };
}

/** quietCapable, its WAL at 1000 and its isolation watch started. */
function quietLeader() {
  const lsn = { value: 1000 };
  const { t, armed } = quietCapable(lsn);
  const watch = new IsolationWatch(t.a);
  watch.start();
  return { lsn, t, armed, watch };
}

const readsBetween = (reads: number[], from: number, to: number): number => reads.filter((r) => r >= from && r < to).length;

test('probing itself, the agent follows the WAL: the quiet pace after 10 s without a write, a round at once at the first write, then the fast pace', async () => {
  const { lsn, t, armed, watch } = quietLeader();
  await cycles(t, watch, 16_000); // quiet from 10 s, watched, then two cycles see the WAL unmoved
  assert.equal(armed.arms, 1, 'pg_wal watched once');
  await cycles(t, watch, 10_000);
  const quiet = readsBetween(t.reads, 16_000, 26_000);
  assert.ok(quiet >= 4 && quiet <= 6, `${quiet} reads in 10 s of quiet WAL: one every 2 s expected (25 at the fast pace)`);

  // The first write: a round at once, not at the next quiet round.
  await t.advance(100);
  const writeAt = 26_100;
  armed.onWrite?.();
  await t.advance(0);
  assert.equal(t.reads.at(-1), writeAt, 'a round at the first write');
  lsn.value = 2000; // the next cycle sees the WAL moved
  await cycles(t, watch, 4_000);
  const busy = readsBetween(t.reads, writeAt, writeAt + 4_000);
  assert.ok(busy >= 9, `${busy} reads in the 4 s after the write: the fast pace expected (10)`);
  assert.equal(armed.arms, 1, 'no watch armed again while the WAL moves');
  watch.stop();
});

test('probing itself with a WAL that moves every cycle, or without a watch (the simulator): the fast pace throughout', async () => {
  const { lsn, t, armed, watch } = quietLeader();
  for (let i = 0; i < 10; i++) {
    lsn.value += 100;
    await cycles(t, watch, 2_000);
  }
  assert.equal(armed.arms, 0, 'pg_wal watched although written every cycle');
  assert.ok(readsBetween(t.reads, 10_000, 20_000) >= 23, 'the fast pace');
  watch.stop();

  const plain = agent({ bytes: false, keelFence: false }); // no nextWalWrite port, as in the simulator
  const still = new IsolationWatch(plain.a);
  still.start();
  await cycles(plain, still, 20_000);
  assert.ok(readsBetween(plain.reads, 10_000, 20_000) >= 23, `${readsBetween(plain.reads, 10_000, 20_000)} reads in 10 s without a watch`);
  still.stop();
});

test('a write between the last WAL position seen and the watch is caught by the next cycle: the watch is dropped and the pace stays fast', async () => {
  const { lsn, t, armed, watch } = quietLeader();
  await cycles(t, watch, 12_000);
  assert.equal(armed.arms, 1);
  const before = t.reads.length;
  lsn.value = 1100; // written before the watch was armed: the watch never fires for it
  await cycles(t, watch, 4_000);
  assert.ok(armed.stops >= 1, 'the watch was dropped once the cycle saw the WAL moved');
  assert.ok(t.reads.length - before >= 9, `${t.reads.length - before} reads in 4 s: the fast pace expected`);
  watch.stop();
});

test('the two probes that must see the WAL unmoved after the watch is armed are two observations, not the two pokes of one cycle', async () => {
  const t = agent({ bytes: false, keelFence: false });
  let arms = 0;
  Object.assign(t.raw.ports, {
    nextWalWrite: () => {
      arms += 1;
      return () => undefined;
    },
  });
  let probe = { inRecovery: false, currentLsn: 1000 };
  Object.defineProperty(t.raw.pg, 'probe', { get: () => probe });
  const watch = new IsolationWatch(t.a);
  watch.start();
  // Each cycle: a new observation, poked after it and at the cycle's end (as agent.ts does).
  const cycle = async (): Promise<void> => {
    probe = { inRecovery: false, currentLsn: 1000 };
    watch.poke();
    await t.advance(1000);
    watch.poke();
    await t.advance(1000);
  };
  while (arms === 0) await cycle();
  await cycle(); // one observation after the arming, poked twice
  const oneObservation = t.reads.length;
  await t.advance(1600);
  assert.ok(t.reads.length - oneObservation >= 3, 'the quiet pace after a single observation, poked twice');
  await cycle(); // the second observation
  await cycle();
  const quietFrom = t.reads.length;
  await t.advance(4000);
  assert.ok(t.reads.length - quietFrom <= 3, `${t.reads.length - quietFrom} reads in 4 s after two observations: the quiet pace expected`);
  watch.stop();
});
