/**
 * keel-fence on its own (native/keel-fence.c, driven through the agent's client
 * src/engine/process-fence.ts): its failure modes, without a cluster.
 *
 * The "postmaster" here is a copy of sleep(1) named `postgres` (keel-fence checks the name of the
 * process postmaster.pid names, so a reused pid is never signalled), recorded in a data
 * directory's postmaster.pid. Every process started is stopped by PID in `after`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { KEEL_FENCE_BINARY, ProcessFence, fenceSocketName, keelFencePids } from '../../../src/engine/process-fence.js';
import { systemClock } from '../../../src/engine/clock.js';
import { createLogger } from '../../../src/observability/log.js';
import { eventually } from '../../support/sandbox.js';
import { askKeelFence as ask } from '../../support/keel-fence.js';

const started: ChildProcess[] = [];
const dirs: string[] = [];

after(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of keelFencePids(dirs.map((d) => join(d, 'data')))) process.kill(pid, 'SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface FakeNode {
  dataDir: string;
  postmaster: ChildProcess;
  exited: Promise<{ atMs: number; signal: NodeJS.Signals | null }>;
  logLines: string[];
  fence: ProcessFence;
}

/** A data directory whose postmaster.pid names a live process called `postgres`, and a ProcessFence for it. */
async function fakeNode(name = 'postgres'): Promise<FakeNode> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-fence-test-'));
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  const binary = join(dir, name);
  await copyFile('/bin/sleep', binary);
  execFileSync('chmod', ['755', binary]);
  const postmaster = spawn(binary, ['600'], { stdio: 'ignore' });
  started.push(postmaster);
  const exited = new Promise<{ atMs: number; signal: NodeJS.Signals | null }>((resolve) =>
    postmaster.once('exit', (_code, signal) => resolve({ atMs: performance.now(), signal })),
  );
  await writeFile(join(dataDir, 'postmaster.pid'), `${postmaster.pid}\n${dataDir}\n`);
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', format: 'text', write: (line) => logLines.push(line) });
  const fence = new ProcessFence({ dataDir, clock: systemClock, log });
  return { dataDir, postmaster, exited, logLines, fence };
}

function stillRunning(node: FakeNode): boolean {
  return node.postmaster.exitCode === null && node.postmaster.signalCode === null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('the build produced keel-fence', () => {
  // The ELF magic, read directly (file(1) is not on every machine).
  assert.deepEqual([...readFileSync(KEEL_FENCE_BINARY).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${KEEL_FENCE_BINARY} is not an executable`);
});

test('fed a deadline and then not fed: it stops the postmaster at the deadline, not before', async () => {
  const node = await fakeNode();
  const heard: number[] = [];
  node.fence.onStops((count) => heard.push(count));
  const armedAt = performance.now();
  node.fence.feed(systemClock.now() + 1500);
  const status = await eventually('keel-fence armed', 5000, async () => {
    const answer = await ask(node.dataDir, 'status');
    return answer.startsWith('armed') ? answer : undefined;
  });
  assert.match(status, /^armed \d+ \d+ 0$/, 'nothing stopped yet');
  const { atMs, signal } = await node.exited;
  assert.equal(signal, 'SIGQUIT', 'an immediate shutdown is asked with SIGQUIT');
  assert.ok(atMs - armedAt >= 1400, `stopped ${Math.round(atMs - armedAt)} ms after arming, before its deadline`);
  assert.ok(atMs - armedAt < 4000, `stopped only ${Math.round(atMs - armedAt)} ms after arming`);
  assert.match(await ask(node.dataDir, 'status'), /^fired -?\d+ \d+ 1$/, 'one stop counted');
  await eventually('the client heard of the stop', 5000, async () => (heard.length > 0 ? true : undefined));
  assert.deepEqual(heard, [1], 'told once, while connected');
  // A second client of the same keel-fence (an agent restarted meanwhile) hears of it from status.
  const later = new ProcessFence({ dataDir: node.dataDir, clock: systemClock, log: createLogger({ level: 'debug', format: 'text', write: () => undefined }) });
  const heardLater: number[] = [];
  later.onStops((count) => heardLater.push(count));
  later.feed(null);
  await eventually('the new client asked keel-fence', 5000, async () => (heardLater.length > 0 ? true : undefined));
  assert.deepEqual(heardLater, [1]);
  await later.close();
  await node.fence.close();
});

test('fed again before the deadline: the deadline moves; stood down: it never stops the postmaster', async () => {
  const node = await fakeNode();
  node.fence.feed(systemClock.now() + 1500);
  await sleep(1000);
  // moved by more than the agent's feed step (a smaller move is not sent: ProcessFence.feed)
  node.fence.feed(systemClock.now() + 2000);
  await sleep(1000);
  assert.ok(stillRunning(node), 'the postmaster was stopped although the deadline had been moved');
  node.fence.feed(null);
  await eventually('keel-fence disarmed', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('disarmed') ? true : undefined));
  await sleep(2500);
  assert.ok(stillRunning(node), 'the postmaster was stopped although the fence stood down');
  await node.fence.close();
  await eventually('keel-fence exits after quit', 5000, async () => (keelFencePids([node.dataDir]).length === 0 ? true : undefined));
});

test('a deadline moved later by less than the feed step is not sent; an earlier one is sent at once', async () => {
  const node = await fakeNode();
  const remaining = async (): Promise<number> => Number(/^armed (\d+)/.exec(await ask(node.dataDir, 'status'))?.[1] ?? NaN);
  const base = systemClock.now();
  node.fence.feed(base + 30_000);
  await eventually('keel-fence armed', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('armed') ? true : undefined));
  node.fence.feed(base + 30_500);
  const held = await remaining();
  assert.ok(held <= 30_000 && held > 20_000, `keel-fence holds the first deadline (${held} ms left), not the one 0.5 s later`);
  node.fence.feed(base + 31_500);
  await eventually('a move of 1.5 s is sent', 5000, async () => ((await remaining()) > 30_000 ? true : undefined));
  node.fence.feed(base + 25_000);
  await eventually('an earlier deadline is sent', 5000, async () => ((await remaining()) <= 25_000 ? true : undefined));
  node.fence.feed(null);
  await eventually('keel-fence disarmed', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('disarmed') ? true : undefined));
  await node.fence.close();
});

test('stood down with none running (a replica): it looks for keel-fence once, not on every feed, until an arm', async () => {
  const node = await fakeNode();
  node.fence.feed(null); // none runs: the one attempt is refused
  await sleep(300);
  // From now on a listener answers on keel-fence's socket name: any attempt to reach it shows here.
  const accepted: string[] = [];
  const server = createServer((socket) => {
    socket.on('data', (chunk) => accepted.push(chunk.toString()));
  });
  await new Promise<void>((resolve) => server.listen(`\0${fenceSocketName(node.dataDir)}`, resolve));
  try {
    for (let i = 0; i < 5; i++) {
      node.fence.feed(null);
      await sleep(100);
    }
    assert.equal(accepted.length, 0, `feeds that stand the fence down looked for keel-fence again: ${JSON.stringify(accepted)}`);
    node.fence.feed(systemClock.now() + 60_000);
    const got = await eventually('an arm reaches the socket', 5000, async () => accepted.find((line) => line.startsWith('arm ')));
    assert.match(got, /^arm \d+\n/);
  } finally {
    await node.fence.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('keel-fence killed while armed: the agent starts it again at once and feeds it', async () => {
  const node = await fakeNode();
  node.fence.feed(systemClock.now() + 60_000);
  const first = await eventually('keel-fence running', 5000, async () => keelFencePids([node.dataDir])[0]);
  process.kill(first, 'SIGKILL');
  const second = await eventually('keel-fence started again', 5000, async () => keelFencePids([node.dataDir]).find((pid) => pid !== first));
  assert.notEqual(second, first);
  await eventually('the new keel-fence is armed', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('armed') ? true : undefined));
  assert.ok(
    node.logLines.some((l) => l.includes('lost keel-fence')),
    `the agent's log does not say it lost keel-fence:\n${node.logLines.join('\n')}`,
  );
  // And the new one fences: the agent stops feeding (as a frozen one does) and the deadline passes.
  node.fence.feed(systemClock.now() + 800);
  const { signal } = await node.exited;
  assert.equal(signal, 'SIGQUIT');
  await node.fence.close();
});

test('the agent killed while armed: keel-fence still stops the postmaster at the deadline, then exits', async () => {
  const node = await fakeNode();
  // An "agent": a Node process that feeds the fence a deadline 1.5 s ahead, then is SIGKILLed.
  const client = new URL('../../../src/engine/process-fence.js', import.meta.url).href;
  const script = `import(${JSON.stringify(client)}).then(({ ProcessFence }) => {
    const log = { debug() {}, info() {}, warning() {}, error() {} };
    const fence = new ProcessFence({ dataDir: ${JSON.stringify(node.dataDir)}, clock: { now: () => performance.now() }, log });
    fence.feed(performance.now() + 1500);
    setInterval(() => {}, 1000);
  });`;
  const agent = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  started.push(agent);
  const pid = await eventually('keel-fence running', 5000, async () => keelFencePids([node.dataDir])[0]);
  await eventually('armed', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('armed') ? true : undefined));
  agent.kill('SIGKILL');
  const { signal } = await node.exited;
  assert.equal(signal, 'SIGQUIT');
  await eventually(`keel-fence ${pid} exits once neither armed nor connected`, 15_000, async () =>
    keelFencePids([node.dataDir]).length === 0 ? true : undefined,
  );
});

test('a postmaster.pid naming a process that is not postgres (a reused pid) is never signalled', async () => {
  const node = await fakeNode('not-postgres');
  node.fence.feed(systemClock.now() + 300);
  await eventually('fired', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('fired') ? true : undefined));
  await sleep(300);
  assert.ok(stillRunning(node), 'a process that is not a postmaster was signalled');
  await node.fence.close();
});

test('past the deadline a replica (standby.signal) is left running but watched, and stopped once it leaves recovery', async () => {
  const node = await fakeNode();
  await writeFile(join(node.dataDir, 'standby.signal'), '');
  node.fence.feed(systemClock.now() + 300);
  await sleep(1200);
  assert.ok(stillRunning(node), 'a replica was stopped: it acknowledges no commit');
  assert.match(await ask(node.dataDir, 'status'), /^armed 0 /, 'keel-fence no longer watches the overdue replica');
  const promotedAt = performance.now();
  await rm(join(node.dataDir, 'standby.signal'));
  const { atMs, signal } = await node.exited;
  assert.equal(signal, 'SIGQUIT');
  assert.ok(atMs - promotedAt < 1000, `stopped ${Math.round(atMs - promotedAt)} ms after it left recovery`);
  await node.fence.close();
});

test('a peer of another uid is not served (abstract sockets have no file permissions)', async () => {
  const node = await fakeNode();
  node.fence.feed(systemClock.now() + 60_000);
  await eventually('armed', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('armed') ? true : undefined));
  const script = `const s=require('net').connect({path:'\\0${fenceSocketName(node.dataDir)}'});let a='';s.on('data',d=>a+=d);s.on('close',()=>{process.stdout.write('answer:'+a.trim())});s.on('error',()=>process.stdout.write('error'));s.write('disarm\\n');`;
  const out = execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', script], { timeout: 10_000 }).toString();
  // The connection is closed unanswered (the client may see it reset): never an answer.
  assert.match(out, /^(error)?answer:$/, `another uid got an answer: ${out}`);
  assert.match(await ask(node.dataDir, 'status'), /^armed /, 'another uid disarmed the fence');
  node.fence.feed(null);
  await node.fence.close();
  assert.ok(stillRunning(node));
});

test('wall-clock steps (an hour forward, an hour back) while armed: it fires at the monotonic deadline', async () => {
  const node = await fakeNode();
  const stamp = join(node.dataDir, '..', 'faketime');
  await writeFile(stamp, '+0\n');
  // keel-fence started by hand under libfaketime: only the wall clock is faked, and it is read
  // from `stamp` at every call, so the test can step it while keel-fence runs.
  const fence = spawn('faketime', ['-f', '+0', KEEL_FENCE_BINARY, '--socket', fenceSocketName(node.dataDir), '--data-dir', node.dataDir], {
    stdio: 'ignore',
    env: { ...process.env, DONT_FAKE_MONOTONIC: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_TIMESTAMP_FILE: stamp, FAKETIME_NO_CACHE: '1' },
  });
  started.push(fence);
  await eventually('keel-fence under faketime listens', 5000, async () => ((await ask(node.dataDir, 'status')) !== '' ? true : undefined));
  const armedAt = performance.now();
  node.fence.feed(systemClock.now() + 2000);
  await eventually('armed', 5000, async () => ((await ask(node.dataDir, 'status')).startsWith('armed') ? true : undefined));
  await writeFile(stamp, '+3600\n');
  await sleep(500);
  assert.ok(stillRunning(node), 'a wall clock an hour ahead fired the fence early');
  await writeFile(stamp, '-3600\n');
  const { atMs, signal } = await node.exited;
  assert.equal(signal, 'SIGQUIT');
  const after = atMs - armedAt;
  assert.ok(after >= 1900 && after < 5000, `fired ${Math.round(after)} ms after arming (deadline 2000 ms)`);
  await node.fence.close();
});
