/**
 * `keel sandbox up --galera`: etcd (3 members) and N MariaDB + Galera nodes with their keel agents
 * on loopback, each node with its own SQL, gmcast, IST and SST ports and its own directories,
 * optionally HAProxy in front (writes to the single writer, reads to the Synced nodes). Recorded
 * in <dir>/sandbox.json like the PostgreSQL sandbox, so `keel sandbox down` stops it by PID.
 *
 * As strict as production: the SQL account keel creates has a random password, the node files
 * holding it are readable by their owner only, and innodb_flush_log_at_trx_commit keeps keel's
 * durable default. When keel runs as root, mariadbd runs as the `mysql` OS user, which owns the
 * node directories.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { KeelError } from '../errors.js';
import { loadGaleraConfigFile } from '../galera/config.js';
import { checkHealth } from '../galera/health.js';
import { mysqlRunAs } from '../galera/mariadb.js';
import { startEtcdCluster } from './etcd-cluster.js';
import { freePorts } from './ports.js';
import { startHaproxy, type HaproxyCheckTimings } from './haproxy.js';
import { refuseRunningSandbox, spawnAgent, writeRecord, type SandboxRecord } from './sandbox.js';

export interface GaleraSandboxOptions {
  dir: string;
  nodes: number;
  scope?: string;
  host?: string;
  ttlS: number;
  loopWaitS: number;
  /** Also start HAProxy with these check timings. */
  haproxy?: HaproxyCheckTimings;
  log?: (line: string) => void;
}

interface GaleraNodePorts {
  sql: number;
  api: number;
  gmcast: number;
  ist: number;
  sst: number;
}

const PORTS_PER_NODE = 5;

/** The galera.yml of one sandbox node: small buffers, every address on the sandbox's host. */
function nodeConfig(options: {
  scope: string;
  name: string;
  host: string;
  etcd: string[];
  ttlS: number;
  loopWaitS: number;
  dir: string;
  ports: GaleraNodePorts;
  password: string;
}): string {
  const { ports, dir } = options;
  return stringify({
    scope: options.scope,
    name: options.name,
    loop_wait: options.loopWaitS,
    ttl: options.ttlS,
    restapi: { listen: `${options.host}:${ports.api}` },
    etcd3: { hosts: options.etcd.join(',') },
    galera: {
      node_address: options.host,
      port: ports.sql,
      gmcast_port: ports.gmcast,
      ist_port: ports.ist,
      sst_port: ports.sst,
      data_dir: join(dir, 'data'),
      config_dir: join(dir, 'conf'),
      socket: join(dir, 'mysqld.sock'),
      slave_threads: 2,
      provider_options: { 'gcache.size': '64M' },
      parameters: { innodb_buffer_pool_size: '64M', innodb_log_file_size: '32M', performance_schema: 'OFF' },
      authentication: { superuser: { username: 'keel', password: options.password } },
    },
  });
}

export async function galeraSandboxUp(options: GaleraSandboxOptions): Promise<SandboxRecord> {
  const log = options.log ?? (() => undefined);
  const dir = resolve(options.dir);
  const host = options.host ?? '127.0.0.1';
  if (options.nodes < 1 || options.nodes > 9) throw new KeelError('sandbox.bad_nodes', `--nodes must be between 1 and 9, got ${options.nodes}`);
  await refuseRunningSandbox(dir, options.dir);
  const mysqlUser = mysqlRunAs();
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755); // mariadbd runs as the mysql OS user and must traverse this directory
  const scope = options.scope ?? 'keel-galera';
  const ports = await freePorts(9 + PORTS_PER_NODE * options.nodes, host);
  const at = (index: number) => ports[index] ?? 0;
  log(`starting etcd (3 members) in ${join(dir, 'etcd')}`);
  const etcd = await startEtcdCluster({ dir: join(dir, 'etcd'), size: 3, host, clientPorts: ports.slice(0, 3), peerPorts: ports.slice(3, 6) });
  const record: SandboxRecord = {
    kind: 'galera',
    runtime: 'keel',
    scope,
    namespace: '/service/',
    host,
    etcd: { endpoints: etcd.endpoints.map((e) => `${e.host}:${e.port}`), pids: etcd.members.map((m) => m.pid), dir: join(dir, 'etcd') },
    nodes: [],
  };
  await writeRecord(dir, record);
  const password = randomBytes(12).toString('hex');
  const plans = Array.from({ length: options.nodes }, (_, index) => {
    const base = 9 + index * PORTS_PER_NODE;
    const nodePorts: GaleraNodePorts = { sql: at(base), api: at(base + 1), gmcast: at(base + 2), ist: at(base + 3), sst: at(base + 4) };
    return { name: `node${index + 1}`, dir: join(dir, `node${index + 1}`), ports: nodePorts };
  });
  if (options.haproxy !== undefined) {
    record.haproxy = await startHaproxy({
      dir,
      host,
      scope,
      members: { galera: plans.map((p) => ({ name: p.name, sqlHost: host, sqlPort: p.ports.sql, apiHost: host, apiPort: p.ports.api })) },
      ports: { write: at(6), read: at(7), stats: at(8) },
      timings: options.haproxy,
      runtimeSocket: null,
    });
    await writeRecord(dir, record);
    log(`started HAProxy: pid ${record.haproxy.pid}, writes ${host}:${at(6)}, reads ${host}:${at(7)}, stats http://${host}:${at(8)}/`);
  }
  for (const plan of plans) {
    await mkdir(plan.dir, { recursive: true, mode: 0o755 });
    // the socket is created in the node directory by mariadbd itself
    if (mysqlUser !== null) await chown(plan.dir, mysqlUser.uid, mysqlUser.gid);
    const config = join(dir, `${plan.name}.yml`);
    const text = nodeConfig({
      scope,
      name: plan.name,
      host,
      etcd: record.etcd.endpoints,
      ttlS: options.ttlS,
      loopWaitS: options.loopWaitS,
      dir: plan.dir,
      ports: plan.ports,
      password,
    });
    await writeFile(config, text, { mode: 0o600 });
    const logFile = join(dir, `${plan.name}.log`);
    const pid = await spawnAgent(config, logFile, 'keel');
    record.nodes.push({
      name: plan.name,
      config,
      logFile,
      pid,
      pgPort: plan.ports.sql,
      apiPort: plan.ports.api,
      dataDir: join(plan.dir, 'data'),
      mariadbPidFile: join(plan.dir, 'conf', 'mariadbd.pid'),
    });
    await writeRecord(dir, record);
    log(
      `started ${plan.name}: agent pid ${pid}, MariaDB ${host}:${plan.ports.sql}, REST API http://${host}:${plan.ports.api}, gmcast ${plan.ports.gmcast}, IST ${plan.ports.ist}, SST ${plan.ports.sst}`,
    );
  }
  return record;
}

/**
 * Waits until every node is Synced in one Primary component of all the nodes, as `keel galera
 * status` shows it: the agents' live wsrep figures and also the states they published in etcd.
 * The two are refreshed apart (the figures on their own timer, the member key once a cycle), so a
 * donor's key can still say Donor/Desynced for a cycle after its joiner is done; waiting on the
 * figures alone printed that stale state in the table that follows. Fails with the agents' last lines.
 */
export async function waitForGalera(record: SandboxRecord, timeoutMs: number): Promise<void> {
  const { collectRows } = await import('../galera/status-collect.js');
  const config = loadGaleraConfigFile(record.nodes[0]?.config ?? '');
  const deadline = performance.now() + timeoutMs;
  let seen = 'no agent answered yet';
  while (performance.now() < deadline) {
    const rows = await collectRows(config).catch((error: unknown) => {
      seen = `etcd does not answer: ${error instanceof Error ? error.message : String(error)}`;
      return null;
    });
    if (rows !== null) {
      const byName = new Map(rows.map((row) => [row.name, row]));
      const states = record.nodes.map((n) => {
        const row = byName.get(n.name);
        const size = row?.wsrep?.clusterSize ?? 0;
        const ready = row !== undefined && row.state === 'Synced' && checkHealth(row.wsrep).ok && size === record.nodes.length;
        return { ready, text: `${n.name}=${row === undefined ? 'no key' : `${row.state}/${size}`}` };
      });
      seen = states.map((s) => s.text).join(' ');
      if (states.every((s) => s.ready)) return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const tails = await Promise.all(
    record.nodes.map(async (n) => `${n.name}: ${(await readFile(n.logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ')}`),
  );
  throw new KeelError('sandbox.timeout', `the Galera cluster did not come up within ${Math.round(timeoutMs / 1000)}s (${seen})\n${tails.join('\n')}`);
}
