/**
 * The Galera verbs: `keel agent galera.yml` lands here when the file has a `galera:` section,
 * and `keel galera force-bootstrap NODE` records an operator's override for a recovery that
 * waits on nodes that never reported (the agents' planner still refuses a node behind a peer).
 */
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { isRecord } from '../config/values.js';
import { readConfigPath } from '../config/yaml-source.js';
import { openAgentLog } from './agent-log.js';
import { DcsUnavailableError, EtcdError } from '../engine/etcd/etcd-errors.js';
import { loadGaleraConfigFile } from '../galera/config.js';
// The Galera agent and its MariaDB client (mysql2) are loaded only by the verbs that use them:
// every keel process loads this module, and a PostgreSQL agent should not carry them (~5 MB RSS).
import type { MemberRecord, NodeRegistration } from '../galera/agent.js';
import type { GaleraConfig } from '../galera/config.js';
import type { GaleraRegistration } from '../haproxy/galera-config-render.js';
import { renderStatusJson, renderStatusTable, statusWarnings } from '../galera/status-render.js';

const DEADLINE_MS = 10_000;

/** A galera.yml is a configuration file with a `galera:` section. */
export function isGaleraFile(file: string): boolean {
  try {
    const data = readConfigPath(file).data;
    return isRecord(data) && data['galera'] !== undefined;
  } catch {
    return false;
  }
}

export async function runGaleraAgent(file: string, flags: { validateConfig?: boolean; logFormat?: string }): Promise<void> {
  const [{ GaleraAgent }, { startGaleraApi }] = await Promise.all([import('../galera/agent.js'), import('../galera/api.js')]);
  const config = loadGaleraConfigFile(file);
  const log = openAgentLog(file, config, flags);
  if (log === null) return;
  const agent = new GaleraAgent(config, log);
  process.on('SIGTERM', () => agent.stop());
  process.on('SIGINT', () => agent.stop());
  const api = await startGaleraApi(config.restapi.listen, {
    name: config.name,
    scope: config.scope,
    availableWhenDonor: config.galera.availableWhenDonor,
    counters: () => agent.counters(),
    status: () => agent.status,
    isWriter: () => agent.holdsWriter(),
  });
  log.info(`Galera agent ${config.name}: REST API on http://${config.restapi.listen.host}:${api.port}`);
  try {
    process.exitCode = await agent.run();
  } finally {
    await api.close();
  }
}

async function forceBootstrap(configFile: string | undefined, node: string): Promise<void> {
  const { galeraEtcdClient, galeraPrefix } = await import('../galera/agent.js');
  if (configFile === undefined) throw new KeelError('cli.no_config', 'keel galera force-bootstrap needs -c galera.yml');
  const config = loadGaleraConfigFile(configFile);
  const prefix = galeraPrefix(config);
  const client = galeraEtcdClient(config, DEADLINE_MS);
  try {
    const answer = await client.range(prefix, { prefix: true });
    const keys = new Map(answer.kvs.map((kv) => [kv.key.slice(prefix.length), kv.value]));
    if (!keys.has('cluster'))
      throw new KeelError(
        'galera.no_cluster',
        `the Galera cluster ${config.scope} does not exist yet: its first start elects its bootstrap node by itself; nothing changed`,
      );
    const primary = [...keys]
      .filter(([key]) => key.startsWith('members/'))
      .filter(([, value]) => (JSON.parse(value) as MemberRecord).primary)
      .map(([key]) => key.slice('members/'.length));
    if (primary.length > 0) {
      throw new KeelError(
        'galera.bootstrap_refused',
        `refusing to bootstrap ${node}: the cluster ${config.scope} has a Primary component (${primary.join(', ')}); a second bootstrap would split it into two clusters; nothing changed`,
      );
    }
    if (!keys.has(`nodes/${node}`)) throw new KeelError('galera.unknown_node', `${node} is not a node of the cluster ${config.scope}; nothing changed`);
    await client.put(`${prefix}force-bootstrap`, JSON.stringify({ node }));
    process.stdout.write(`recorded: ${node} may bootstrap once the report timeout has passed, if a majority reported and no reported node is ahead of it\n`);
  } finally {
    client.close();
  }
}

function parseJsonObject<T>(text: string): Partial<T> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Partial<T>) : {};
  } catch {
    return {};
  }
}

/**
 * Every node registered in etcd with its SQL and REST API addresses (for `keel haproxy-config`):
 * the persistent nodes/<name> keys, completed by the live members/<name> keys of agents that
 * registered before the addresses were part of the registration.
 */
export async function readGaleraRegistrations(config: GaleraConfig): Promise<GaleraRegistration[]> {
  const { galeraEtcdClient, galeraPrefix } = await import('../galera/agent.js');
  const prefix = galeraPrefix(config);
  const client = galeraEtcdClient(config, DEADLINE_MS);
  try {
    const answer = await client.range(prefix, { prefix: true });
    const byName = new Map<string, GaleraRegistration>();
    const entry = (name: string): GaleraRegistration => {
      const known = byName.get(name);
      if (known !== undefined) return known;
      const fresh: GaleraRegistration = { name, sql: undefined, apiUrl: undefined };
      byName.set(name, fresh);
      return fresh;
    };
    for (const kv of answer.kvs) {
      const [kind, name, ...rest] = kv.key.slice(prefix.length).split('/');
      if (name === undefined || name === '' || rest.length > 0) continue;
      if (kind === 'nodes') {
        const node = parseJsonObject<NodeRegistration>(kv.value);
        const registration = entry(name);
        registration.sql = node.sql ?? registration.sql;
        registration.apiUrl = node.api_url ?? registration.apiUrl;
      } else if (kind === 'members') {
        const member = parseJsonObject<MemberRecord>(kv.value);
        const registration = entry(name);
        registration.sql ??= member.sql;
        registration.apiUrl ??= member.api_url;
      }
    }
    return [...byName.values()];
  } finally {
    client.close();
  }
}

/** `keel galera status` (also `keel sandbox status` of a Galera sandbox); etcd errors are one line. */
export async function showGaleraStatus(configFile: string, format: string): Promise<void> {
  await etcdErrorsAsOneLine(() => showStatus(configFile, format));
}

async function showStatus(configFile: string | undefined, format: string): Promise<void> {
  const { collectChecks, collectRows } = await import('../galera/status-collect.js');
  if (format !== 'pretty' && format !== 'json')
    throw new KeelError('cli.bad_format', `--format must be pretty or json, got ${JSON.stringify(format)}`, { exitCode: 2 });
  if (configFile === undefined) throw new KeelError('cli.no_config', 'keel galera status needs -c galera.yml', { exitCode: 2 });
  const config = loadGaleraConfigFile(configFile);
  const rows = await collectRows(config);
  const checks = await collectChecks(config, rows).catch(() => null);
  const warnings = statusWarnings(rows, checks);
  process.stdout.write(format === 'json' ? renderStatusJson(config.scope, rows, warnings) : renderStatusTable(config.scope, rows, warnings));
}

/** etcd not answering (or refusing) is a one-line error with the fix, not a stack trace. */
export async function etcdErrorsAsOneLine(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof DcsUnavailableError || error instanceof EtcdError) {
      throw new KeelError('cli.dcs_unavailable', error.message, { hint: 'check that etcd runs and that the etcd3 section of the configuration file names it' });
    }
    throw error;
  }
}

export function registerGaleraCommands(program: Command): void {
  const galera = program.command('galera').description('MariaDB Galera clusters');
  galera
    .command('status')
    .description('the nodes with their wsrep status, and warnings about tables Galera handles badly')
    .option('-f, --format <format>', 'pretty or json', 'pretty')
    .action(async (flags: { format: string }) => {
      await etcdErrorsAsOneLine(() => showStatus(program.opts<{ configFile?: string }>().configFile, flags.format));
    });
  galera
    .command('force-bootstrap')
    .description("after a total outage where some nodes never report: allow NODE to bootstrap (the operator's override)")
    .argument('<node>', 'the node to bootstrap from (it must not be behind any node that reported)')
    .action(async (node: string) => {
      await etcdErrorsAsOneLine(() => forceBootstrap(program.opts<{ configFile?: string }>().configFile, node));
    });
}
