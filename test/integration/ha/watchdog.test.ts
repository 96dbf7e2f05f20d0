/**
 * The watchdog path (issue 10): the agent's WatchdogDevice asks keel-fence to open the device,
 * program its timeout and ping it, since Node has no ioctl. This machine has no /dev/watchdog
 * and cannot load softdog, so keel-fence runs with test/support/fake-watchdog.c preloaded: on a
 * file named "fake-watchdog" it answers the watchdog ioctls as a driver would and writes down
 * each one ("T<s>" a timeout set, "K" a keepalive); keel-fence's magic close shows as "V".
 * Everything else is real: keel-fence's process and protocol, the agent-side client, the ioctl
 * numbers, the refusal of a plain file (ENOTTY). Every keel-fence started is killed by PID.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessFence, keelFencePids } from '../../../src/engine/process-fence.js';
import { WatchdogDevice } from '../../../src/engine/watchdog-device.js';
import { systemClock } from '../../../src/engine/clock.js';
import { createLogger } from '../../../src/observability/log.js';
import { eventually } from '../../support/sandbox.js';

const SHIM_SOURCE = fileURLToPath(new URL('../../../../test/support/fake-watchdog.c', import.meta.url));
let root = '';
const dataDirs: string[] = [];
const started: ChildProcess[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'keel-watchdog-test-'));
  const shim = join(root, 'fake-watchdog.so');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', shim, SHIM_SOURCE, '-ldl']);
  // keel-fence inherits the environment of the process that starts it (ProcessFence.start)
  process.env['LD_PRELOAD'] = shim;
});

after(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of keelFencePids(dataDirs)) process.kill(pid, 'SIGKILL');
  if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(root, { recursive: true, force: true });
});

interface Host {
  device: string;
  dataDir: string;
  fence: ProcessFence;
  watchdog: WatchdogDevice;
  logLines: string[];
}

/** A data directory with its keel-fence client, and a watchdog device file named `deviceName`. */
async function host(name: string, deviceName = 'fake-watchdog'): Promise<Host> {
  const dir = join(root, name);
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  dataDirs.push(dataDir);
  const device = join(dir, deviceName);
  await writeFile(device, '');
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', format: 'text', write: (line) => logLines.push(line) });
  const fence = new ProcessFence({ dataDir, clock: systemClock, log });
  return { device, dataDir, fence, watchdog: new WatchdogDevice(device, true, fence, log), logLines };
}

const deviceLog = async (h: Host): Promise<string[]> => (await readFile(h.device, 'utf8')).split('\n').filter((l) => l !== '');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('armed: keel-fence programs the timeout asked and pings; each keepalive programs it again; disabled: the magic close', async () => {
  const h = await host('programmable');
  assert.deepEqual(h.watchdog.observe(), { available: true, armed: false });
  assert.equal(await h.watchdog.arm(25_000), true);
  assert.deepEqual(h.watchdog.observe(), { available: true, armed: true });
  assert.deepEqual(await deviceLog(h), ['T25', 'K']);
  h.watchdog.keepalive(21_000); // a later confirmation leaves less time: the timeout shrinks
  await eventually('the keepalive reaches the device', 5000, async () => ((await deviceLog(h)).length === 4 ? true : undefined));
  assert.deepEqual(await deviceLog(h), ['T25', 'K', 'T21', 'K']);
  h.watchdog.disable();
  await eventually('the magic close', 5000, async () => ((await deviceLog(h)).at(-1) === 'V' ? true : undefined));
  assert.deepEqual(h.watchdog.observe(), { available: true, armed: false });
  assert.ok(
    h.logLines.some((l) => /watchdog .* armed: it resets this host unless pinged within 25 s/.test(l)),
    h.logLines.join('\n'),
  );
  await h.fence.close();
});

test('a device that grants only a longer timeout is refused and closed; it counts as unavailable afterwards', async () => {
  process.env['FAKE_WATCHDOG_MIN_S'] = '60';
  try {
    const h = await host('too-long');
    assert.equal(await h.watchdog.arm(25_000), false);
    // keel-fence closes it at once with the magic character: a device left open would reset the host
    assert.deepEqual(await deviceLog(h), ['T60', 'V']);
    assert.deepEqual(h.watchdog.observe(), { available: false, armed: false });
    assert.ok(
      h.logLines.some((l) => l.includes('the device accepted 60 s instead of 25 s')),
      h.logLines.join('\n'),
    );
    assert.equal(await h.watchdog.arm(25_000), false, 'a refused device was tried again at once');
    await h.fence.close();
  } finally {
    delete process.env['FAKE_WATCHDOG_MIN_S'];
  }
});

test('a plain file is no watchdog: its timeout cannot be set (ENOTTY), and it is refused', async () => {
  const h = await host('plain-file', 'not-a-watchdog');
  assert.equal(await h.watchdog.arm(25_000), false);
  assert.ok(
    h.logLines.some((l) => /cannot set the timeout: Inappropriate ioctl/.test(l)),
    h.logLines.join('\n'),
  );
  assert.equal(h.watchdog.observe().available, false);
  await h.fence.close();
});

test('no device: unavailable, and nothing is started for it', async () => {
  const h = await host('absent');
  await rm(h.device);
  assert.deepEqual(h.watchdog.observe(), { available: false, armed: false });
  assert.equal(await h.watchdog.arm(25_000), false);
  assert.deepEqual(keelFencePids([h.dataDir]), []);
});

test('keel-fence restarted under an armed watchdog: the next keepalive finds it closed, and the agent arms it again', async () => {
  const h = await host('restarted');
  assert.equal(await h.watchdog.arm(25_000), true);
  const [pid] = keelFencePids([h.dataDir]);
  assert.ok(pid !== undefined);
  process.kill(pid, 'SIGKILL'); // its fd closes without the magic character: a real device keeps counting down
  await sleep(300);
  h.watchdog.keepalive(24_000);
  await eventually('the agent sees the watchdog closed', 5000, async () => (h.watchdog.observe().armed ? undefined : true));
  assert.ok(
    h.logLines.some((l) => l.includes('watchdog keepalive failed: not open')),
    h.logLines.join('\n'),
  );
  assert.equal(await h.watchdog.arm(24_000), true);
  assert.deepEqual((await deviceLog(h)).slice(-2), ['T24', 'K']);
  assert.ok(!(await deviceLog(h)).includes('V'), 'the killed keel-fence stopped the device');
  h.watchdog.disable();
  await eventually('the magic close', 5000, async () => ((await deviceLog(h)).at(-1) === 'V' ? true : undefined));
  await h.fence.close();
});

test('the agent killed while the watchdog is armed: keel-fence neither pings nor closes it, and does not exit', async () => {
  const h = await host('agent-killed');
  const engine = new URL('../../../src/engine/', import.meta.url).href;
  // An "agent": a Node process that arms the watchdog through keel-fence, then is SIGKILLed.
  const script = `Promise.all([import(${JSON.stringify(`${engine}process-fence.js`)}), import(${JSON.stringify(`${engine}watchdog-device.js`)})]).then(async ([{ ProcessFence }, { WatchdogDevice }]) => {
    const log = { debug() {}, info() {}, warning() {}, error() {} };
    const fence = new ProcessFence({ dataDir: ${JSON.stringify(h.dataDir)}, clock: { now: () => performance.now() }, log });
    const armed = await new WatchdogDevice(${JSON.stringify(h.device)}, true, fence, log).arm(25000);
    process.stdout.write(armed ? 'armed\\n' : 'refused\\n');
    setInterval(() => {}, 1000);
  });`;
  const agent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(agent);
  let out = '';
  agent.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await eventually('the agent armed the watchdog', 10_000, async () => (out.includes('armed') ? true : undefined));
  assert.equal(out.trim(), 'armed');
  const [pid] = keelFencePids([h.dataDir]);
  agent.kill('SIGKILL');
  // keel-fence exits after 5 s with neither a deadline nor an agent, but not while it holds the device
  await sleep(7000);
  assert.deepEqual(keelFencePids([h.dataDir]), [pid], 'keel-fence exited (and closed the device) with the agent gone');
  assert.deepEqual(await deviceLog(h), ['T25', 'K'], 'the device was pinged or stopped after the agent died');
});
