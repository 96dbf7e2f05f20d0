/**
 * `keel demo` as a user runs it (ttl 10 / loop_wait 2 to keep it short): --failover --once prints
 * how to connect, the failover report and the final view, then stops everything; without --once
 * it shows the live view until SIGINT (Ctrl-C), then stops everything and exits 0. Either way no
 * process it started (agents, postmasters, HAProxy, etcd) is left running.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEEL_MAIN, eventually } from '../../support/sandbox.js';
import { isAlive, sandboxDown, type SandboxRecord } from '../../../src/sandbox/sandbox.js';

const dirs: string[] = [];

after(async () => {
  for (const dir of dirs) {
    await sandboxDown(dir).catch(() => undefined); // only if a test failed half-way
    if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  }
});

/**
 * Waits for `pattern` in the demo's output, a little longer than the demo's own start bound
 * (300 s, demo-command.ts) so that its error is printed first; a timeout says what the demo
 * printed (a full suite once timed out here with nothing to read).
 */
async function untilPrinted(demo: Demo, what: string, pattern: RegExp): Promise<void> {
  try {
    await eventually(what, 330_000, async () => (pattern.test(demo.output()) ? true : undefined), 500);
  } catch (error) {
    const tail = demo.output().split('\n').slice(-40).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}; the demo printed:\n${tail}`);
  }
}

interface Demo {
  output: () => string;
  exit: Promise<number | null>;
  pid: number;
}

function startDemo(dir: string, ...args: string[]): Demo {
  const child = spawn(process.execPath, [KEEL_MAIN, 'demo', '--dir', dir, '--ttl', '10', '--loop-wait', '2', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { output: () => output, exit, pid: child.pid ?? 0 };
}

/** Every PID the demo recorded, plus the postmasters of its data directories, read before it stops. */
async function startedPids(dir: string): Promise<number[]> {
  const record = JSON.parse(await readFile(join(dir, 'sandbox.json'), 'utf8')) as SandboxRecord;
  const postmasters = await Promise.all(
    record.nodes.map(async (n) => Number((await readFile(join(n.dataDir, 'postmaster.pid'), 'utf8').catch(() => '0')).split('\n')[0])),
  );
  return [...record.nodes.map((n) => n.pid), ...record.etcd.pids, record.haproxy?.pid ?? 0, ...postmasters].filter((pid) => pid > 0);
}

test('demo --failover --once: connection lines, a failover report, then everything stopped', { timeout: 600_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-demo-test-'));
  dirs.push(dir);
  const demo = startDemo(dir, '--failover', '--once');
  let pids: number[] = [];
  await untilPrinted(demo, 'the demo to print how to connect', /connect through HAProxy:/);
  pids = await startedPids(dir);
  const code = await demo.exit;
  const output = demo.output();
  assert.equal(code, 0, output);
  assert.match(output, /writes \(the leader\): +PGPASSWORD=\S+ psql -h 127\.0\.0\.1 -p \d+ -U postgres/);
  assert.match(output, /reads \(a replica\): +PGPASSWORD=\S+ psql -h 127\.0\.0\.1 -p \d+ -U postgres/);
  assert.match(output, /HAProxy stats page: +http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(output, /node1: http:\/\/127\.0\.0\.1:\d+\/patroni/);
  const killed = /the leader (node\d) is killed/.exec(output)?.[1];
  const elected = /who took over: +(node\d)/.exec(output)?.[1];
  assert.ok(killed !== undefined && elected !== undefined && killed !== elected, output);
  assert.match(output, /its agent said: +promoted self to leader/);
  assert.match(output, /none for \d+\.\d\d s \(last by node\d -> first by node\d\)/);
  assert.match(output, /lost: +(no acknowledged write lost|\d+ acknowledged write\(s\) missing)/);
  assert.match(output, new RegExp(`${killed} streams again`));
  assert.match(output, new RegExp(`HAProxy: writes -> ${elected}; reads -> `));
  assert.match(output, /demo stopped; nothing it started is left running/);
  await eventually('every process gone', 30_000, async () => (pids.some(isAlive) ? undefined : true));
});

test('demo without --once: a live view until Ctrl-C, then everything stopped and exit 0', { timeout: 400_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-demo-test-'));
  dirs.push(dir);
  const demo = startDemo(dir);
  await untilPrinted(demo, 'the live view', /refreshing every 2s; Ctrl-C stops/);
  const pids = await startedPids(dir);
  assert.ok(pids.length >= 7, `pids: ${pids.join(', ')}`);
  assert.match(demo.output(), /\| node1 +\| 127\.0\.0\.1:\d+ \|/);
  assert.match(demo.output(), /HAProxy: writes -> node\d; reads -> /);
  process.kill(demo.pid, 'SIGINT');
  const code = await demo.exit;
  assert.equal(code, 0, demo.output());
  assert.match(demo.output(), /demo stopped; nothing it started is left running/);
  await eventually('every process gone', 30_000, async () => (pids.some(isAlive) ? undefined : true));
});
