/**
 * Loading a Galera node's configuration (galera.yml): `scope`, `name`, `namespace`, `restapi` and
 * `etcd3` exactly as in a patroni.yml (the same parsers and the same etcd resolution), plus a
 * `galera:` section for the MariaDB node.
 *
 * Invariant: an invalid file throws one ConfigError naming the key path and what was expected
 * (exit code 2, nothing started); defaults are filled in here, once, so the agent never guesses.
 * Durability: innodb_flush_log_at_trx_commit defaults to 1. The seed set 0, which loses
 * transactions the cluster acknowledged when the nodes crash together; a file that sets 0 or 2
 * is accepted (it is the operator's choice) with a warning that says so.
 */
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { resolveEtcd } from '../config/etcd.js';
import { localFileSchema, opt, renderIssue, req } from '../config/schema.js';
import type { EtcdConfig, HostPort, LogConfig } from '../config/types.js';
import {
  describe,
  fail,
  isRecord,
  parseBool,
  isWildcardHost,
  normaliseNamespace,
  ok,
  parseInteger,
  parsePort,
  parseSecondsToMs,
  parseString,
  type Parsed,
} from '../config/values.js';
import { readConfigPath, readYaml } from '../config/yaml-source.js';

export type SstMethod = 'rsync' | 'mariabackup';

export interface GaleraCredentials {
  username: string;
  password: string;
}

export interface GaleraNodeConfig {
  clusterName: string;
  /** The address other nodes reach this one at (gmcast, IST, SST, SQL). */
  nodeAddress: string;
  /** The SQL listen address (bind-address); defaults to nodeAddress. */
  listenAddress: string;
  port: number;
  socket: string;
  dataDir: string;
  /** Where keel writes the rendered option file and the recovery logs (outside the data directory: SST replaces it). */
  configDir: string;
  provider: string;
  mariadbd: string;
  installDb: string;
  gmcastPort: number;
  istPort: number;
  sstPort: number;
  sstMethod: SstMethod;
  slaveThreads: number;
  /** Server settings written into the option file after keel's own (they win). */
  parameters: Record<string, string>;
  /** wsrep_provider_options entries, after keel's gmcast/IST addresses. */
  providerOptions: Record<string, string>;
  /** The SQL account keel (and the health checks) use; created on the bootstrap node. */
  superuser: GaleraCredentials;
  /** How long after the first member reported its position a majority may bootstrap, with an operator's override. */
  reportTimeoutMs: number;
  /** How long mariadbd may take to become ready (SST included) before the start counts as failed. */
  startTimeoutMs: number;
  /** How long a running node may stay Non-Primary before its agent considers pc.bootstrap. */
  nonPrimaryTimeoutMs: number;
  /** GET /health answers 200 on a donor too (clustercheck's AVAILABLE_WHEN_DONOR). */
  availableWhenDonor: boolean;
}

export interface GaleraConfig {
  file: string | null;
  scope: string;
  namespace: string;
  name: string;
  restapi: { listen: HostPort; connectAddress: HostPort };
  etcd: EtcdConfig;
  loopWaitMs: number;
  ttlS: number;
  galera: GaleraNodeConfig;
  log: LogConfig;
  warnings: string[];
}

/** A mapping of scalar settings (server parameters, provider options), rendered as strings. */
function parseSettings(value: unknown): Parsed<Record<string, string>> {
  if (!isRecord(value)) return fail(`expected a mapping of settings, got ${describe(value)}`);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'boolean') out[key] = item ? 'ON' : 'OFF';
    else if (typeof item === 'number' || typeof item === 'string') out[key] = String(item);
    else return fail(`${key}: expected a string, a number or a boolean, got ${describe(item)}`);
  }
  return ok(out);
}

function parseSstMethod(value: unknown): Parsed<SstMethod> {
  return value === 'rsync' || value === 'mariabackup' ? ok(value) : fail(`expected rsync or mariabackup, got ${describe(value)}`);
}

const positiveInt = (value: unknown) => parseInteger(value, { min: 1 });

const galeraSchema = z.preprocess(
  (value) => (value === null ? {} : value),
  z
    .object({
      cluster_name: opt(parseString),
      node_address: req(parseString, 'the address other nodes reach this one at, e.g. 10.0.1.31'),
      listen_address: opt(parseString),
      port: opt(parsePort),
      socket: opt(parseString),
      data_dir: req(parseString, 'the MariaDB data directory'),
      config_dir: opt(parseString),
      provider: opt(parseString),
      mariadbd: opt(parseString),
      install_db: opt(parseString),
      gmcast_port: opt(parsePort),
      ist_port: opt(parsePort),
      sst_port: opt(parsePort),
      sst_method: opt(parseSstMethod),
      slave_threads: opt(positiveInt),
      parameters: opt(parseSettings),
      provider_options: opt(parseSettings),
      authentication: z.preprocess(
        (value) => (value === null ? undefined : value),
        z
          .object({
            superuser: z.object({ username: req(parseString, 'the SQL user keel creates and uses'), password: req(parseString, 'its password') }).passthrough(),
          })
          .passthrough(),
      ),
      report_timeout: opt(parseSecondsToMs),
      start_timeout: opt(parseSecondsToMs),
      non_primary_timeout: opt(parseSecondsToMs),
      available_when_donor: opt(parseBool),
    })
    .passthrough(),
);

const shape = localFileSchema.shape;
const fileSchema = z
  .object({
    name: shape.name,
    scope: shape.scope,
    namespace: shape.namespace,
    restapi: shape.restapi,
    etcd: shape.etcd,
    etcd3: shape.etcd3,
    log: shape.log,
    loop_wait: opt(positiveInt),
    ttl: opt((value) => parseInteger(value, { min: 2 })),
    galera: galeraSchema,
  })
  .passthrough();

/** Keys the server is started with that keel owns: setting them under parameters would break what keel relies on. */
const OWNED_PARAMETERS = [
  'wsrep_on',
  'wsrep_provider',
  'wsrep_cluster_address',
  'wsrep_cluster_name',
  'wsrep_node_name',
  'wsrep_node_address',
  'wsrep_sst_receive_address',
  'wsrep_sst_method',
  'wsrep_provider_options',
  'datadir',
  'socket',
  'port',
  'bind_address',
  'binlog_format',
  'innodb_autoinc_lock_mode',
  'default_storage_engine',
];

/** MariaDB accepts dashes and underscores alike in option names. */
export function optionName(name: string): string {
  return name.trim().toLowerCase().replace(/-/g, '_');
}

/** Loads a galera.yml (a file, or a directory of *.yml). */
export function loadGaleraConfigFile(path: string): GaleraConfig {
  const file = resolve(path);
  const read = readConfigPath(file);
  return buildGaleraConfig(read.data, file, file, read.warnings);
}

/** Parses galera.yml text (for tests and `--validate-config` on stdin-like sources). */
export function parseGaleraConfig(text: string, file: string | null): GaleraConfig {
  const origin = file === null ? 'configuration' : resolve(file);
  const read = readYaml(text, origin);
  return buildGaleraConfig(read.data, origin, file === null ? null : origin, read.warnings);
}

function buildGaleraConfig(data: unknown, origin: string, file: string | null, yamlWarnings: string[]): GaleraConfig {
  if (!isRecord(data)) throw new ConfigError('', `${origin}: expected a mapping of settings at the top level, got ${describe(data)}`);
  const warnings = [...yamlWarnings];
  const result = fileSchema.safeParse(data);
  if (!result.success) {
    const first = result.error.issues[0];
    const issue = first === undefined ? { path: '', message: 'invalid configuration' } : renderIssue(first, data);
    throw new ConfigError(issue.path, issue.message, `fix it in ${origin}`);
  }
  const parsed = result.data;
  const failAt = (path: string, message: string, hint?: string): never => {
    throw new ConfigError(path, message, hint ?? `fix it in ${origin}`);
  };
  const etcd = resolveEtcd(data, parsed, failAt, warnings);
  const api = parsed.restapi;
  const connectAddress = api.connect_address ?? (isWildcardHost(api.listen.host) ? undefined : api.listen);
  if (connectAddress === undefined) {
    return failAt('restapi.connect_address', `is required when restapi.listen is a wildcard address ("${api.listen.host}:${api.listen.port}")`);
  }
  if (api.certfile !== undefined) warnings.push('restapi.certfile: ignored, the Galera agent serves its REST API over plain http for now');
  const g = parsed.galera;
  const dataDir = resolve(g.data_dir);
  const parameters = g.parameters ?? {};
  const normalised: Record<string, string> = {};
  for (const [key, value] of Object.entries(parameters)) {
    const name = optionName(key);
    if (OWNED_PARAMETERS.includes(name)) {
      return failAt(
        `galera.parameters.${key}`,
        'is set by keel from the galera section',
        'use the matching galera key (node_address, port, socket, data_dir, provider, sst_method, ...)',
      );
    }
    normalised[name] = value;
  }
  const flush = normalised['innodb_flush_log_at_trx_commit'];
  if (flush === undefined) normalised['innodb_flush_log_at_trx_commit'] = '1';
  else if (flush === '0' || flush === '2') {
    warnings.push(
      `galera.parameters.innodb_flush_log_at_trx_commit: ${flush} does not flush every commit to disk: when the nodes crash together (a power cut), transactions the cluster acknowledged are lost; 1 (the default) keeps them`,
    );
  }
  const nodeAddress = g.node_address;
  return {
    file,
    scope: parsed.scope,
    namespace: normaliseNamespace(parsed.namespace ?? 'service'),
    name: parsed.name,
    restapi: { listen: api.listen, connectAddress },
    etcd,
    loopWaitMs: (parsed.loop_wait ?? 2) * 1000,
    ttlS: parsed.ttl ?? 10,
    galera: {
      clusterName: g.cluster_name ?? parsed.scope,
      nodeAddress,
      listenAddress: g.listen_address ?? nodeAddress,
      port: g.port ?? 3306,
      socket: resolve(g.socket ?? join(dirname(dataDir), `${parsed.name}.sock`)),
      dataDir,
      configDir: resolve(g.config_dir ?? join(dirname(dataDir), `${parsed.name}.keel`)),
      provider: g.provider ?? '/usr/lib/galera/libgalera_smm.so',
      mariadbd: g.mariadbd ?? '/usr/sbin/mariadbd',
      installDb: g.install_db ?? '/usr/bin/mariadb-install-db',
      gmcastPort: g.gmcast_port ?? 4567,
      istPort: g.ist_port ?? 4568,
      sstPort: g.sst_port ?? 4444,
      sstMethod: g.sst_method ?? 'rsync',
      slaveThreads: g.slave_threads ?? 4,
      parameters: normalised,
      providerOptions: g.provider_options ?? {},
      superuser: { username: g.authentication.superuser.username, password: g.authentication.superuser.password },
      reportTimeoutMs: g.report_timeout ?? 60_000,
      startTimeoutMs: g.start_timeout ?? 600_000,
      nonPrimaryTimeoutMs: g.non_primary_timeout ?? 30_000,
      availableWhenDonor: g.available_when_donor ?? false,
    },
    log: { level: parsed.log.level ?? 'info', format: parsed.log.type ?? 'text' },
    warnings,
  };
}
