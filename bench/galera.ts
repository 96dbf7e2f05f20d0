/**
 * bench/galera: a power cut of a three-node MariaDB Galera cluster (kill -9 of every mariadbd and
 * every keel agent at once, under writers on all three nodes), then the time until the cluster is
 * a Primary component of 3 with a write accepted on every node, and acknowledged rows missing.
 *
 *  - keel:   the agents are started again and do everything themselves (grastate.dat,
 *            --wsrep-recover, positions in etcd, the planner, the bootstrap, the joins);
 *  - manual: the seed's procedure scripted step by step on the same machine, as fast as a script
 *            can do it (no human reading logs): read every grastate.dat, run --wsrep-recover where
 *            seqno is -1, pick the highest seqno, set safe_to_bootstrap: 1, start that node with
 *            --wsrep-new-cluster (galera_new_cluster), wait for it, start the others. The agents
 *            are restarted afterwards (they adopt the running servers) for the next repetition.
 *
 *   node dist/bench/galera.js [--reps 5] [--systems keel,manual]
 * Writes bench/results/galera.json and bench/results/galera.table.md.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import {
  GALERA_USER,
  type GaleraLab,
  type GaleraLabNode,
  allSynced,
  isAlive,
  killNode,
  labLogs,
  sql,
  startAgent,
  startGaleraLab,
  clusterSize,
} from '../test/support/galera-lab.js';
import { parseGrastate, renderGrastate } from '../src/galera/grastate.js';
import { parseRecoveredPosition } from '../src/galera/grastate.js';
import { arg, fmt, monoMs, stats } from './support.js';

const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const WAIT_LIMIT_MS = 180_000;
const WRITE_BEFORE_KILL_MS = 2_000;

async function until(check: () => Promise<boolean>, what: string, nodes: GaleraLabNode[]): Promise<void> {
  const deadline = monoMs() + WAIT_LIMIT_MS;
  while (monoMs() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}\n${await labLogs(nodes)}`);
}

/** A write accepted on every node (the cluster takes writes, not only reads). */
async function writesAccepted(nodes: GaleraLabNode[], probe: number): Promise<boolean> {
  try {
    for (const [index, node] of nodes.entries()) await sql(node, (c) => c.query('INSERT INTO bench.probe VALUES (?)', [probe * 10 + index]));
    return true;
  } catch {
    return false;
  }
}

/** Writers on every node until the kill; returns the acknowledged ids. */
function startWriters(nodes: GaleraLabNode[], base: number): { acknowledged: number[]; done: Promise<void[]> } {
  const acknowledged: number[] = [];
  const done = Promise.all(
    nodes.map(async (node, index) => {
      let connection: mysql.Connection | null = null;
      try {
        connection = await mysql.createConnection({ host: '127.0.0.1', port: node.sql, ...GALERA_USER });
        for (let id = base + index * 1_000_000; ; id++) {
          await connection.query('INSERT INTO bench.acked VALUES (?)', [id]);
          acknowledged.push(id);
        }
      } catch {
        // the kill
      } finally {
        connection?.destroy();
      }
    }),
  );
  return { acknowledged, done };
}

async function missingRows(nodes: GaleraLabNode[], acknowledged: number[]): Promise<number> {
  let worst = 0;
  for (const node of nodes) {
    const present = await sql(node, async (c) => {
      await c.query('SET SESSION wsrep_sync_wait = 1');
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id FROM bench.acked');
      return new Set(rows.map((row) => Number(row['id'])));
    });
    worst = Math.max(worst, acknowledged.filter((id) => !present.has(id)).length);
  }
  return worst;
}

function runAsMysql(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--reuid=mysql', '--regid=mysql', '--clear-groups', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
}

/** The seed's manual procedure, scripted. */
async function manualRecovery(nodes: GaleraLabNode[]): Promise<void> {
  const positions: Array<{ node: GaleraLabNode; uuid: string; seqno: number }> = [];
  for (const node of nodes) {
    const cnf = join(node.dir, 'conf', 'my.cnf');
    const state = parseGrastate(await readFile(join(node.dir, 'data', 'grastate.dat'), 'utf8'));
    if (!state.ok) throw new Error(`${node.name}: ${state.error}`);
    let seqno = state.value.seqno;
    if (seqno === -1) {
      const log = join(node.dir, 'conf', 'bench-recover.log');
      await runAsMysql(['/usr/sbin/mariadbd', `--defaults-file=${cnf}`, '--wsrep-recover', `--log-error=${log}`]);
      const recovered = parseRecoveredPosition(await readFile(log, 'utf8'));
      if (!recovered.ok) throw new Error(`${node.name}: ${recovered.error}`);
      seqno = recovered.value.seqno;
    }
    positions.push({ node, uuid: state.value.uuid, seqno });
  }
  positions.sort((a, b) => b.seqno - a.seqno);
  const first = positions[0];
  if (first === undefined) throw new Error('no node');
  await writeFile(
    join(first.node.dir, 'data', 'grastate.dat'),
    renderGrastate({ version: '2.1', uuid: first.uuid, seqno: first.seqno, safeToBootstrap: true }),
  );
  const start = (node: GaleraLabNode, extra: string[]) =>
    spawn(
      'setpriv',
      ['--reuid=mysql', '--regid=mysql', '--clear-groups', '/usr/sbin/mariadbd', `--defaults-file=${join(node.dir, 'conf', 'my.cnf')}`, ...extra],
      {
        stdio: 'ignore',
        detached: true,
      },
    ).unref();
  start(first.node, ['--wsrep-new-cluster']);
  await until(async () => (await clusterSize(first.node)) >= 1, `${first.node.name} bootstrapped`, nodes);
  for (const other of positions.slice(1)) start(other.node, [`--wsrep-start-position=${other.uuid}:${other.seqno}`]);
}

interface Repetition {
  system: string;
  rep: number;
  recoverS: number;
  acked: number;
  missing: number;
}

async function powerCut(lab: GaleraLab, system: 'keel' | 'manual', rep: number): Promise<Repetition> {
  const { nodes } = lab;
  const writers = startWriters(nodes, (rep + 1) * 10_000_000 + (system === 'keel' ? 0 : 5_000_000));
  await new Promise((resolve) => setTimeout(resolve, WRITE_BEFORE_KILL_MS));
  const pids = nodes.flatMap((node) => killNode(node));
  const killedAt = monoMs();
  await writers.done;
  await until(async () => pids.every((pid) => !isAlive(pid)), 'the killed processes gone', nodes);
  if (system === 'keel') {
    for (const node of nodes) startAgent(node);
    await until(async () => (await allSynced(nodes)) && (await writesAccepted(nodes, rep * 2)), 'keel: Primary of 3 with writes', nodes);
  } else {
    await manualRecovery(nodes);
    await until(async () => (await allSynced(nodes, false)) && (await writesAccepted(nodes, rep * 2 + 1)), 'manual: Primary of 3 with writes', nodes);
  }
  const recoverS = (monoMs() - killedAt) / 1000;
  const missing = await missingRows(nodes, writers.acknowledged);
  if (system === 'manual') {
    for (const node of nodes) startAgent(node);
    await until(() => allSynced(nodes), 'agents adopting the servers', nodes);
  }
  return { system, rep, recoverS, acked: writers.acknowledged.length, missing };
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '5'));
  const systems = arg('systems', 'keel,manual').split(',') as Array<'keel' | 'manual'>;
  const lab = await startGaleraLab({ scope: 'bench' });
  const results: Repetition[] = [];
  try {
    for (const node of lab.nodes) startAgent(node);
    await until(() => allSynced(lab.nodes), 'the first start', lab.nodes);
    const first = lab.nodes[0] as GaleraLabNode;
    await sql(first, (c) => c.query('CREATE DATABASE bench'));
    await sql(first, (c) => c.query('CREATE TABLE bench.acked (id BIGINT PRIMARY KEY)'));
    await sql(first, (c) => c.query('CREATE TABLE bench.probe (id BIGINT PRIMARY KEY)'));
    for (let rep = 0; rep < reps; rep++) {
      for (const system of systems) {
        const result = await powerCut(lab, system, rep);
        results.push(result);
        process.stdout.write(
          `${system} rep ${rep + 1}: ${result.recoverS.toFixed(2)} s to a Primary of 3 taking writes; missing ${result.missing}/${result.acked}\n`,
        );
      }
    }
  } finally {
    await lab.stop();
  }
  const lines = ['system | kill->Primary of 3 with writes, s (median min max) | missing/acked (worst node, all reps)', '--- | --- | ---'];
  for (const system of systems) {
    const mine = results.filter((r) => r.system === system);
    const s = stats(mine.map((r) => r.recoverS * 1000));
    lines.push(
      `${system} | ${fmt(s.median)} ${fmt(s.min)} ${fmt(s.max)} | ${mine.reduce((n, r) => n + r.missing, 0)}/${mine.reduce((n, r) => n + r.acked, 0)}`,
    );
  }
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, 'galera.json'), JSON.stringify({ reps, results }, null, 2) + '\n');
  await writeFile(join(RESULTS, 'galera.table.md'), lines.join('\n') + '\n');
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
