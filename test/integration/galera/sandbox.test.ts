/**
 * `keel sandbox up --galera --haproxy`: etcd, three MariaDB + Galera nodes with their agents
 * (each with its own SQL, gmcast, IST and SST ports and directories) and HAProxy, from the CLI
 * alone; `keel galera status --format json` sees a Primary component of 3, HAProxy's write port
 * reaches the single writer; `sandbox down` leaves none of the processes it started. A second
 * `up` on a running sandbox's directory is refused, and bad flags start nothing. Every recorded
 * PID is killed in `finally`, also when a step fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { runKeel } from '../../support/sandbox.js';
import { killPid } from '../../support/galera-lab.js';
// zombie-aware: the sandbox's processes outlive the `keel sandbox up` that started them, and are reaped by whoever adopts them
import { isAlive } from '../../../src/sandbox/etcd-cluster.js';
import type { SandboxRecord } from '../../../src/sandbox/sandbox.js';

async function recordOf(dir: string): Promise<SandboxRecord | null> {
  return JSON.parse(await readFile(join(dir, 'sandbox.json'), 'utf8').catch(() => 'null')) as SandboxRecord | null;
}

async function mariadbPids(record: SandboxRecord): Promise<number[]> {
  const pids: number[] = [];
  for (const node of record.nodes) {
    const pid = Number((await readFile(node.mariadbPidFile ?? '/nonexistent', 'utf8').catch(() => '')).trim());
    if (pid > 0) pids.push(pid);
  }
  return pids;
}

async function everyPid(record: SandboxRecord): Promise<number[]> {
  return [...record.etcd.pids, ...record.nodes.map((n) => n.pid), record.haproxy?.pid ?? 0, ...(await mariadbPids(record))].filter((pid) => pid > 0);
}

test('keel sandbox up --galera --haproxy: three Synced nodes behind HAProxy; down stops every process', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-galera-sandbox-'));
  try {
    // bad input: one line, exit 2, nothing started or written
    for (const [flags, message] of [
      [['--ttl', '1.5'], /^keel: --ttl must be a whole number of seconds, at least 2, got "1\.5"\n$/],
      [['--base-port', '20000'], /^keel: --base-port applies to PostgreSQL sandboxes only, not with --galera\n$/],
    ] as const) {
      const refused = await runKeel(['sandbox', 'up', '--galera', '--dir', join(dir, 'refused'), ...flags]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, message);
      assert.equal(await recordOf(join(dir, 'refused')), null, 'nothing written');
    }
    const up = await runKeel(['sandbox', 'up', '--galera', '--haproxy', '--dir', dir, '--wait', '150'], { timeoutMs: 200_000 });
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const record = await recordOf(dir);
    assert.ok(record !== null && record.kind === 'galera');
    assert.equal(record.nodes.length, 3);
    // distinct SQL, gmcast, IST and SST ports per node, as the agents were told
    const configs = await Promise.all(record.nodes.map((n) => readFile(n.config, 'utf8')));
    const ports = configs.flatMap((text) => [...text.matchAll(/^ {2}(?:port|gmcast_port|ist_port|sst_port): (\d+)$/gm)].map((m) => Number(m[1])));
    assert.equal(ports.length, 12);
    assert.equal(new Set(ports).size, 12, `every port distinct: ${ports.join(',')}`);
    assert.match(up.stdout, /\| node1 +\| 127\.0\.0\.1:\d+ \| Synced +\| Primary +\| +3 \|/, up.stdout);

    const first = record.nodes[0]?.config ?? '';
    const status = await runKeel(['-c', first, 'galera', 'status', '--format', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const view = JSON.parse(status.stdout) as { nodes: Array<{ name: string; wsrep_cluster_size: number; wsrep_cluster_status: string }> };
    assert.deepEqual(
      view.nodes.map((n) => [n.name, n.wsrep_cluster_status, n.wsrep_cluster_size]),
      ['node1', 'node2', 'node3'].map((name) => [name, 'Primary', 3]),
    );
    const sandboxStatus = await runKeel(['sandbox', 'status', '--dir', dir, '--format', 'json']);
    assert.equal(sandboxStatus.code, 0, sandboxStatus.stderr);
    assert.equal((JSON.parse(sandboxStatus.stdout) as { nodes: unknown[] }).nodes.length, 3);

    // the write port reaches the node whose agent answers 200 on /writer
    const haproxy = record.haproxy;
    assert.ok(haproxy !== undefined);
    const password = /password: (\S+)/.exec(configs[0] ?? '')?.[1] ?? '';
    const writers: string[] = [];
    for (const node of record.nodes) {
      if ((await fetch(`http://127.0.0.1:${node.apiPort}/writer`)).status === 200) writers.push(node.name);
    }
    assert.equal(writers.length, 1, `one writer: ${writers.join(',')}`);
    let reached = '';
    for (let attempt = 0; attempt < 40 && reached !== writers[0]; attempt++) {
      try {
        const c = await mysql.createConnection({ host: '127.0.0.1', port: haproxy.writePort, user: 'keel', password, connectTimeout: 2_000 });
        reached = String((await c.query<mysql.RowDataPacket[]>('SELECT @@wsrep_node_name AS n'))[0][0]?.['n']);
        c.destroy();
      } catch {
        // HAProxy's first checks (inter 3s, rise 2) may not have passed yet
      }
      if (reached !== writers[0]) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    assert.equal(reached, writers[0], 'the write port reaches the writer');

    const again = await runKeel(['sandbox', 'up', '--galera', '--dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^keel: a sandbox is already running in /);

    const started = await everyPid(record);
    assert.equal(started.length, 3 + 3 + 1 + 3, 'etcd x3, agents x3, HAProxy, mariadbd x3');
    const down = await runKeel(['sandbox', 'down', '--dir', dir], { timeoutMs: 150_000 });
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.match(down.stdout, /stopping mariadbd: /);
    assert.deepEqual(
      started.filter((pid) => isAlive(pid)),
      [],
      `no process left; sandbox down said:\n${down.stdout}${down.stderr}`,
    );
  } finally {
    const record = await recordOf(dir);
    if (record !== null) for (const pid of await everyPid(record)) killPid(pid);
    if (process.env['KEEL_KEEP_TEST_DIRS'] === undefined) await rm(dir, { recursive: true, force: true });
  }
});
