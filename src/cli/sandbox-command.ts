/**
 * `keel sandbox up|down|status` — the local cluster on loopback used by the demo, tests and
 * benchmarks. Parsing and printing only; the work is in src/sandbox.
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { sandboxUp, sandboxDown, readSandboxRecord, waitForCluster, isAlive, spawnAgent, writeRecord } from '../sandbox/sandbox.js';
import { SEED_CHECK_TIMINGS, waitForRouting } from '../sandbox/haproxy.js';
import { listCluster, parseFormat } from './list-command.js';
import { showGaleraStatus } from './galera-command.js';

/** --noloadbalance node2,node3 -> tags per node; names must be sandbox nodes (node1..nodeN). */
function parseNoloadbalance(value: string | undefined, nodes: number): Record<string, string[]> | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((n) => n.trim());
  const bad = names.find((n) => !/^node\d+$/.test(n) || Number(n.slice(4)) < 1 || Number(n.slice(4)) > nodes);
  if (bad !== undefined) throw new KeelError('cli.bad_option', `--noloadbalance names sandbox nodes node1..node${nodes}, got "${bad}"`, { exitCode: 2 });
  return Object.fromEntries(names.map((n) => [n, ['noloadbalance']]));
}

function positiveNumber(flag: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new KeelError('cli.bad_number', `${flag} must be a positive number, got "${value}"`, { exitCode: 2 });
  return parsed;
}

/** galera.yml takes whole seconds (ttl at least 2): checked here, before anything is started. */
function wholeSeconds(flag: string, value: string, min: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min)
    throw new KeelError('cli.bad_number', `${flag} must be a whole number of seconds, at least ${min}, got "${value}"`, { exitCode: 2 });
  return parsed;
}

interface UpFlags {
  dir: string;
  nodes: string;
  basePort?: string;
  ttl?: string;
  loopWait?: string;
  retryTimeout?: string;
  scope?: string;
  wait: string;
  haproxy?: boolean;
  noloadbalance?: string;
  galera?: boolean;
}

/** The Galera sandbox: etcd, N MariaDB + Galera nodes and their agents (+ HAProxy), then `keel galera status`. */
async function galeraUp(flags: UpFlags, log: (line: string) => void): Promise<void> {
  for (const [flag, value] of [
    ['--base-port', flags.basePort],
    ['--retry-timeout', flags.retryTimeout],
    ['--noloadbalance', flags.noloadbalance],
  ] as const) {
    if (value !== undefined) throw new KeelError('cli.bad_option', `${flag} applies to PostgreSQL sandboxes only, not with --galera`, { exitCode: 2 });
  }
  // loaded here only: it brings the MariaDB client, which no other keel process needs
  const { galeraSandboxUp, waitForGalera } = await import('../sandbox/galera-sandbox.js');
  const record = await galeraSandboxUp({
    dir: flags.dir,
    nodes: positiveNumber('--nodes', flags.nodes),
    scope: flags.scope ?? 'keel-galera',
    // the Galera agent's own defaults (ttl 10 s, loop_wait 2 s): the writer moves within one ttl
    ttlS: wholeSeconds('--ttl', flags.ttl ?? '10', 2),
    loopWaitS: wholeSeconds('--loop-wait', flags.loopWait ?? '2', 1),
    log,
    ...(flags.haproxy === true ? { haproxy: SEED_CHECK_TIMINGS } : {}),
  });
  log(`etcd: ${record.etcd.endpoints.join(',')}`);
  const waitS = Number(flags.wait);
  const first = record.nodes[0]?.config ?? '';
  if (waitS > 0) {
    log(`waiting up to ${waitS}s for ${record.nodes.length} Synced nodes in one Primary component...`);
    await waitForGalera(record, waitS * 1000);
  }
  if (record.haproxy !== undefined) {
    const h = record.haproxy;
    log(`\nHAProxy: writes (the single writer) ${record.host}:${h.writePort}, reads ${record.host}:${h.readPort}, stats http://${record.host}:${h.statsPort}/`);
  }
  log(`\nconfigs: ${record.nodes.map((n) => n.config).join(' ')}`);
  log(`try:     keel -c ${first} galera status`);
  if (waitS > 0) await showGaleraStatus(first, 'pretty');
}

export function registerSandboxCommands(program: Command): void {
  const sandbox = program.command('sandbox').description('a local cluster on loopback: etcd x3 and one agent per node');
  sandbox
    .command('up')
    .description('start etcd and the agents in the background and print the endpoints')
    .requiredOption('--dir <dir>', 'directory for configs, data and logs')
    .option('--nodes <n>', 'PostgreSQL (or, with --galera, MariaDB) nodes', '3')
    .option('--galera', 'MariaDB + Galera nodes with their agents instead of PostgreSQL (distinct SQL, gmcast, IST and SST ports)')
    .option('--base-port <port>', 'first of a block of ports (default: free ports)')
    .option('--ttl <s>', 'leader lease TTL (seconds; default 30, with --galera 10)')
    .option('--loop-wait <s>', 'HA loop period (seconds; default 10, with --galera 2)')
    .option('--retry-timeout <s>', 'DCS and PostgreSQL operation timeout (seconds; default 10)')
    .option('--scope <name>', 'cluster name (default keel-sandbox, with --galera keel-galera)')
    .option('--wait <s>', 'wait until a leader runs and every replica streams, or every Galera node is Synced (0 = return at once)', '180')
    .option('--haproxy', 'also start HAProxy (writes to the leader, reads to the replicas, stats page), told about role changes by the agents')
    .option('--noloadbalance <nodes>', 'comma-separated nodes tagged noloadbalance (no reads through HAProxy)')
    .action(async (flags: UpFlags) => {
      const log = (line: string) => process.stdout.write(line + '\n');
      if (flags.galera === true) {
        await galeraUp(flags, log);
        return;
      }
      const nodes = positiveNumber('--nodes', flags.nodes);
      const nodeTags = parseNoloadbalance(flags.noloadbalance, nodes);
      const record = await sandboxUp({
        dir: flags.dir,
        nodes,
        ...(flags.basePort === undefined ? {} : { basePort: positiveNumber('--base-port', flags.basePort) }),
        timings: {
          ttlS: positiveNumber('--ttl', flags.ttl ?? '30'),
          loopWaitS: positiveNumber('--loop-wait', flags.loopWait ?? '10'),
          retryTimeoutS: positiveNumber('--retry-timeout', flags.retryTimeout ?? '10'),
        },
        scope: flags.scope ?? 'keel-sandbox',
        waitMs: 0,
        log,
        ...(flags.haproxy === true ? { haproxy: { timings: SEED_CHECK_TIMINGS, runtimeApi: true } } : {}),
        ...(nodeTags === undefined ? {} : { nodeTags }),
      });
      log(`etcd: ${record.etcd.endpoints.join(',')}`);
      const waitS = Number(flags.wait);
      if (waitS > 0) {
        log(`waiting up to ${waitS}s for a leader and ${record.nodes.length - 1} streaming replica(s)...`);
        const leader = await waitForCluster(record, waitS * 1000);
        if (record.haproxy !== undefined) await waitForRouting(record.host, record.haproxy, leader, waitS * 1000);
      }
      if (record.haproxy !== undefined) {
        const h = record.haproxy;
        log(`\nHAProxy: writes ${record.host}:${h.writePort}, reads ${record.host}:${h.readPort}, stats http://${record.host}:${h.statsPort}/`);
      }
      log(`\nconfigs: ${record.nodes.map((n) => n.config).join(' ')}`);
      log(`try:     keel -c ${record.nodes[0]?.config ?? ''} list`);
      process.stdout.write((await listCluster(record.nodes[0]?.config ?? '', 'pretty')).trimEnd() + '\n');
    });
  sandbox
    .command('down')
    .description('stop everything the sandbox started (by PID)')
    .requiredOption('--dir <dir>', 'the sandbox directory')
    .action(async (flags: { dir: string }) => {
      await sandboxDown(flags.dir, (line) => process.stdout.write(line + '\n'));
      process.stdout.write('sandbox stopped\n');
    });
  sandbox
    .command('start-agent')
    .description("start a node's agent again after it was stopped or killed (recorded, so down stops it)")
    .requiredOption('--dir <dir>', 'the sandbox directory')
    .argument('<node>', 'the node, e.g. node1')
    .action(async (name: string, flags: { dir: string }) => {
      const record = await readSandboxRecord(flags.dir);
      const node = record.nodes.find((n) => n.name === name);
      if (node === undefined)
        throw new KeelError('cli.no_member', `no node "${name}" in the sandbox (${record.nodes.map((n) => n.name).join(', ')})`, { exitCode: 2 });
      if (isAlive(node.pid)) throw new KeelError('sandbox.agent_running', `the agent of ${name} is already running (pid ${node.pid})`);
      node.pid = await spawnAgent(node.config, node.logFile, record.runtime ?? 'keel');
      await writeRecord(flags.dir, record);
      process.stdout.write(`started the agent of ${name}: pid ${node.pid}, log ${node.logFile}\n`);
    });
  sandbox
    .command('status')
    .description('print the cluster of a sandbox (keel list; keel galera status for a Galera sandbox)')
    .requiredOption('--dir <dir>', 'the sandbox directory')
    .option('-f, --format <format>', 'pretty, json or yaml (Galera: pretty or json)', 'pretty')
    .action(async (flags: { dir: string; format: string }) => {
      const record = await readSandboxRecord(flags.dir);
      const first = record.nodes[0];
      if (first === undefined) throw new KeelError('sandbox.empty', 'the sandbox has no nodes');
      if (record.kind === 'galera') {
        await showGaleraStatus(first.config, flags.format);
        return;
      }
      process.stdout.write((await listCluster(first.config, parseFormat(flags.format))).trimEnd() + '\n');
    });
}
