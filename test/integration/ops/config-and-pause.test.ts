/**
 * Issue 8 (dynamic configuration and maintenance mode) on a real keel cluster (3 nodes, ttl 10 /
 * loop_wait 2 / retry_timeout 3) whose REST API requires credentials (restapi.authentication via
 * PATRONI_RESTAPI_USERNAME/PASSWORD, which the agents and the CLI read from the environment):
 *  - PATCH/PUT /config answer codes with and without credentials, validation, the new config;
 *  - `keel edit-config --force -s ... -p ...` visible in `keel show-config` and applied by
 *    PostgreSQL after a reload; refused input changes nothing;
 *  - an edit-config that loses the race against a change made while the editor was open is
 *    reported and loses nothing;
 *  - `keel pause --wait`: killing the leader's PostgreSQL causes no failover and no restart;
 *    `keel list` says " Maintenance mode: on"; `keel resume --wait` brings automatic failover
 *    back and the cluster heals; `keel history` then shows the new timeline.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import {
  startTestCluster,
  runKeel,
  sql,
  eventually,
  postmasterPid,
  leaderKeyHolder,
  killNode,
  restartAgent,
  KEEL_MAIN,
  type TestCluster,
} from '../../support/sandbox.js';
import { sandboxDcs, waitForCluster } from '../../../src/sandbox/sandbox.js';

const API_USER = 'ops-admin';
const API_PASSWORD = 'ops-secret-7';
process.env['PATRONI_RESTAPI_USERNAME'] = API_USER;
process.env['PATRONI_RESTAPI_PASSWORD'] = API_PASSWORD;

const TTL_MS = 10_000;
const LOOP_WAIT_MS = 2_000;
let cluster: TestCluster;

before(
  async () => {
    cluster = await startTestCluster({ nodes: 3, ttlS: TTL_MS / 1000, loopWaitS: LOOP_WAIT_MS / 1000, retryTimeoutS: 3 });
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await cluster?.stop();
  },
  { timeout: 120_000 },
);

function configFile(): string {
  return cluster.record.nodes[0]?.config ?? '';
}

function apiOf(node = cluster.record.nodes[0]?.name): string {
  const member = cluster.record.nodes.find((n) => n.name === node);
  return `http://127.0.0.1:${member?.apiPort ?? 0}`;
}

const BASIC = `Basic ${Buffer.from(`${API_USER}:${API_PASSWORD}`).toString('base64')}`;

async function configRequest(method: 'PATCH' | 'PUT', body: unknown, authorization: string | null): Promise<{ status: number; text: string }> {
  const response = await fetch(`${apiOf()}/config`, {
    method,
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, text: await response.text() };
}

async function storedConfig(): Promise<Record<string, unknown>> {
  const dcs = sandboxDcs(cluster.record, 'test-observer');
  try {
    return (await dcs.loadCluster()).config?.value ?? {};
  } finally {
    await dcs.close();
  }
}

async function keel(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runKeel(['-c', configFile(), ...args], { timeoutMs: 60_000, env });
}

test('PATCH/PUT /config: 401 without or with wrong credentials, 400 for an invalid value, 200 with the new config', async () => {
  const before = await storedConfig();
  assert.equal((await configRequest('PATCH', { loop_wait: 3 }, null)).status, 401);
  assert.equal((await configRequest('PATCH', { loop_wait: 3 }, `Basic ${Buffer.from(`${API_USER}:wrong`).toString('base64')}`)).status, 401);
  assert.equal((await configRequest('PUT', { ttl: 10 }, null)).status, 401);
  const invalid = await configRequest('PATCH', { loop_wait: 'abc' }, BASIC);
  assert.equal(invalid.status, 400);
  assert.equal(invalid.text.trim(), 'invalid configuration: loop_wait: expected an integer of at least 1 (seconds), got "abc"');
  assert.equal((await configRequest('PATCH', { lop_wait: 3 }, BASIC)).status, 400);
  assert.deepEqual(await storedConfig(), before, 'refused requests change nothing');

  const patched = await configRequest('PATCH', { max_timelines_history: 5, postgresql: { parameters: { work_mem: '6MB' } } }, BASIC);
  assert.equal(patched.status, 200);
  const answered = JSON.parse(patched.text) as Record<string, unknown>;
  assert.equal(answered['max_timelines_history'], 5);
  assert.deepEqual(answered, await storedConfig(), 'PATCH answers the whole config as stored');
  assert.equal(((answered['postgresql'] as Record<string, unknown>)['parameters'] as Record<string, unknown>)['max_connections'], 50, 'merged, not replaced');

  const removed = await configRequest('PATCH', { max_timelines_history: null, postgresql: { parameters: { work_mem: null } } }, BASIC);
  assert.equal(removed.status, 200);
  assert.deepEqual(await storedConfig(), before, 'null deletes the keys again');

  const put = await configRequest('PUT', { ...before, check_timeline: true }, BASIC);
  assert.equal(put.status, 200);
  assert.deepEqual(JSON.parse(put.text), { ...before, check_timeline: true });
  assert.deepEqual(await storedConfig(), { ...before, check_timeline: true });
  assert.equal((await configRequest('PUT', { ...before, ttl: 'long' }, BASIC)).status, 400);
  assert.equal((await configRequest('PUT', before, BASIC)).status, 200);
  assert.deepEqual(await storedConfig(), before);
});

test('keel edit-config --force -s loop_wait=3 -p work_mem=8MB: shown by show-config and applied by PostgreSQL on reload; bad input changes nothing', async () => {
  const before = await storedConfig();
  for (const [args, message] of [
    [['-s', 'loop_wait=abc'], /^keel: refused: loop_wait: expected an integer/],
    [['-s', 'lop_wait=3'], /^keel: refused: lop_wait: unknown setting/],
    [['-s', 'loop_wait'], /^keel: invalid setting "loop_wait"/],
    [['-s', 'loop_wait=4'], /^keel: cannot ask "Apply these changes\?" without a terminal; nothing changed/],
  ] as Array<[string[], RegExp]>) {
    const refused = await keel(['edit-config', ...args]);
    assert.notEqual(refused.code, 0, args.join(' '));
    assert.match(refused.stderr, message);
    assert.deepEqual(await storedConfig(), before, `${args.join(' ')} changes nothing`);
  }

  const edit = await keel(['edit-config', '--force', '-s', 'loop_wait=3', '-p', 'work_mem=8MB']);
  assert.equal(edit.code, 0, edit.stderr);
  assert.match(edit.stdout, /^-loop_wait: 2$/m);
  assert.match(edit.stdout, /^\+loop_wait: 3$/m);
  assert.match(edit.stdout, /^\+ {4}work_mem: 8MB$/m);
  assert.match(edit.stdout, /^Configuration changed$/m);
  assert.ok(!edit.stdout.includes('\x1b['), 'no colour when stdout is not a terminal');

  const shown = await keel(['show-config']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^loop_wait: 3$/m);
  assert.match(shown.stdout, /^ {4}work_mem: 8MB$/m);
  // A running agent applies a changed dynamic parameter on its next reload (POST /reload here).
  const leader = await waitForCluster(cluster.record, 60_000);
  const reload = await fetch(`${apiOf(leader)}/reload`, { method: 'POST', headers: { authorization: BASIC }, signal: AbortSignal.timeout(10_000) });
  assert.equal(reload.status, 202);
  await eventually('work_mem applied on the leader', 60_000, async () => {
    const [row] = await sql<{ work_mem: string }>(cluster, leader, 'SHOW work_mem');
    return row?.work_mem === '8MB' ? true : undefined;
  });
  const again = await keel(['edit-config', '--force', '-s', 'loop_wait=3']);
  assert.equal(again.stdout.trim(), 'Not changed');
  const restored = await keel(['edit-config', '--force', '-q', '-s', `loop_wait=${String(before['loop_wait'])}`, '-p', 'work_mem=null']);
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual(await storedConfig(), before);
});

test('permanent slots and ignore_slots set with edit-config: the leader creates the permanent slot, drops an idle stranger, never an ignored one', async () => {
  const leader = await waitForCluster(cluster.record, 60_000);
  const physicalSlots = async () =>
    (await sql<{ slot_name: string }>(cluster, leader, "SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY 1")).map(
      (r) => r.slot_name,
    );
  const memberSlots = cluster.record.nodes.filter((n) => n.name !== leader).map((n) => n.name);
  // an operator's slots: one the configuration will keep (ignore_slots), one nobody declares
  await sql(cluster, leader, "SELECT pg_create_physical_replication_slot('keepme'), pg_create_physical_replication_slot('stranger')");
  const edit = await keel(['edit-config', '--force', '-q', '-s', 'slots.barman.type=physical', '-s', 'ignore_slots=[{name: keepme}]']);
  assert.equal(edit.code, 0, edit.stderr);
  const kept = await eventually('barman created, stranger dropped, keepme kept', 60_000, async () => {
    const names = await physicalSlots();
    return names.includes('barman') && !names.includes('stranger') ? names : undefined;
  });
  assert.deepEqual(kept, ['barman', 'keepme', ...memberSlots].sort());

  // without the configuration both are strangers: dropped, the members' slots stay
  const cleared = await keel(['edit-config', '--force', '-q', '-s', 'slots=null', '-s', 'ignore_slots=null']);
  assert.equal(cleared.code, 0, cleared.stderr);
  const after = await eventually('barman and keepme dropped once undeclared', 60_000, async () => {
    const names = await physicalSlots();
    return !names.includes('barman') && !names.includes('keepme') ? names : undefined;
  });
  assert.deepEqual(after, memberSlots.sort());
});

test('edit-config racing a change made while the editor was open: "config changed concurrently", the other change kept', async () => {
  const before = await storedConfig();
  // The "editor" changes loop_wait in the file, and meanwhile someone changes retry_timeout through the REST API.
  const editor = join(cluster.dir, 'racing-editor.sh');
  await writeFile(
    editor,
    [
      '#!/bin/sh',
      'sed -i "s/^loop_wait: .*/loop_wait: 5/" "$1"',
      `curl -sf -o /dev/null -u '${API_USER}:${API_PASSWORD}' -X PATCH -H 'content-type: application/json' -d '{"retry_timeout": 4}' ${apiOf()}/config || exit 3`,
      '',
    ].join('\n'),
  );
  await chmod(editor, 0o755);
  const raced = await keel(['edit-config', '--force'], { EDITOR: editor });
  assert.equal(raced.code, 1, raced.stdout + raced.stderr);
  assert.match(raced.stdout, /^\+loop_wait: 5$/m, 'the diff of the edit was shown');
  assert.match(raced.stderr, /^keel: config changed concurrently; nothing was written$/m);
  const after = await storedConfig();
  assert.equal(after['retry_timeout'], 4, 'the concurrent change is kept');
  assert.equal(after['loop_wait'], before['loop_wait'], 'the losing edit wrote nothing');
  assert.equal((await configRequest('PATCH', { retry_timeout: before['retry_timeout'] }, BASIC)).status, 200);
});

/** Runs keel on a pseudo-terminal (util-linux `script`), typing `answer` once it has started. */
function keelOnTerminal(args: string[], answer: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const command = [process.execPath, KEEL_MAIN, '-c', configFile(), ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    // A colour terminal, whatever the environment running the tests says: Node's colour detection
    // (which keel's paint goes through) turns colour off for CI=…, NO_COLOR, TERM=dumb or no TERM.
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
    for (const name of ['CI', 'NO_COLOR', 'NODE_DISABLE_COLORS', 'FORCE_COLOR']) delete env[name];
    const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('Apply these changes? [y/N]: ')) child.stdin.end(answer);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('edit-config on a terminal: a coloured diff, then "Apply these changes?" decides', async () => {
  const before = await storedConfig();
  const declined = await keelOnTerminal(['edit-config', '-s', 'loop_wait=4'], 'n\n');
  assert.equal(declined.code, 0, declined.output);
  assert.ok(declined.output.includes('\x1b[32m+loop_wait: 4\x1b[39m'), `a green + line: ${JSON.stringify(declined.output)}`);
  assert.ok(declined.output.includes('\x1b[31m-loop_wait: '), 'a red - line');
  assert.match(declined.output, /Not applied/);
  assert.deepEqual(await storedConfig(), before, 'declined: nothing written');
  const accepted = await keelOnTerminal(['edit-config', '-s', 'loop_wait=4'], 'y\n');
  assert.equal(accepted.code, 0, accepted.output);
  assert.match(accepted.output, /Configuration changed/);
  assert.equal((await storedConfig())['loop_wait'], 4);
  assert.equal((await keel(['edit-config', '--force', '-q', '-s', `loop_wait=${String(before['loop_wait'])}`])).code, 0);
  assert.deepEqual(await storedConfig(), before);
});

async function inRecovery(node: string): Promise<boolean | null> {
  try {
    const [row] = await sql<{ r: boolean }>(cluster, node, 'SELECT pg_is_in_recovery() AS r');
    return row?.r ?? null;
  } catch {
    return null;
  }
}

test("pause: the leader's PostgreSQL killed, no failover and no restart; resume: failover is back and the cluster heals", async () => {
  const leader = await waitForCluster(cluster.record, 120_000);
  const replicas = cluster.record.nodes.map((n) => n.name).filter((n) => n !== leader);
  const paused = await keel(['pause', '--wait']);
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(paused.stdout, /^Success: cluster management is paused$/m);
  const again = await keel(['pause']);
  assert.equal(again.code, 1);
  assert.equal(again.stderr.trim(), 'keel: Cluster is already paused');

  const pid = await postmasterPid(cluster, leader);
  assert.ok(pid !== null);
  process.kill(pid, 'SIGKILL');
  // Well past the lease and many loops: nobody is promoted and nobody restarts the old primary.
  const watchUntil = Date.now() + TTL_MS + 5 * LOOP_WAIT_MS;
  while (Date.now() < watchUntil) {
    for (const replica of replicas) assert.notEqual(await inRecovery(replica), false, `${replica} must not be promoted while paused`);
    const running = await postmasterPid(cluster, leader);
    assert.ok(running === null || running === pid, 'a paused agent does not restart PostgreSQL');
    await new Promise((r) => setTimeout(r, 1000));
  }
  const holder = await leaderKeyHolder(cluster);
  assert.ok(holder === null || holder === leader, `no other member may take the leader key while paused (holder: ${holder})`);
  const list = await keel(['list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /\n Maintenance mode: on\n$/);

  const resumed = await keel(['resume', '--wait']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /^Success: cluster management is resumed$/m);
  const healed = await waitForCluster(cluster.record, 180_000);
  assert.ok(!(await keel(['list'])).stdout.includes('Maintenance mode'));
  if (healed !== leader) {
    const history = await keel(['history', '-f', 'json']);
    assert.equal(history.code, 0, history.stderr);
    const lines = JSON.parse(history.stdout) as Array<Record<string, unknown>>;
    assert.ok(lines.length >= 1, 'the failover is in the history');
    assert.equal(lines[lines.length - 1]?.['New Leader'], healed);
    const theirs = await promisify(execFile)('/usr/bin/patronictl', ['-c', configFile(), 'history'], {
      timeout: 60_000,
      env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    assert.equal((await keel(['history'])).stdout, theirs.stdout, 'keel history prints what patronictl history prints');
  }
});

test("pause: the leader's agent killed: nobody takes over while paused, and keel-fence stops the orphaned primary before its lease can expire", async () => {
  // A deliberate difference from Patroni, whose orphaned primary runs on: the leader key expires
  // with the dead agent's lease, and once the pause ends a replica would be promoted next to a
  // primary nobody guards (the simulator finds exactly that when keel-fence stands down in pause).
  const leader = await waitForCluster(cluster.record, 180_000);
  const replicas = cluster.record.nodes.map((n) => n.name).filter((n) => n !== leader);
  assert.equal((await keel(['pause', '--wait'])).code, 0);
  await killNode(cluster, leader, { agent: true, postgres: false });
  try {
    const watchUntil = Date.now() + TTL_MS + 5 * LOOP_WAIT_MS;
    while (Date.now() < watchUntil) {
      for (const replica of replicas) assert.notEqual(await inRecovery(replica), false, `${replica} must not be promoted while paused`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(await postmasterPid(cluster, leader), null, 'keel-fence did not stop the orphaned primary');
    const holder = await leaderKeyHolder(cluster);
    assert.ok(holder === null || holder === leader, `no other member may hold the leader key while paused (holder: ${holder})`);
    assert.match((await keel(['list'])).stdout, /\n Maintenance mode: on\n$/);
  } finally {
    await restartAgent(cluster, leader);
  }
  const resumed = await keel(['resume', '--wait']);
  assert.equal(resumed.code, 0, resumed.stderr);
  await waitForCluster(cluster.record, 180_000);
});
