/**
 * Every key a Patroni configuration file may legitimately hold, so that keel warns about
 * typos without ever warning about a real Patroni setting.
 *
 * Built from Patroni's own schema (patroni/validator.py, 3.0.2 through 4.x), its settings
 * documentation (docs/SETTINGS.rst, docs/yaml_configuration.rst, docs/dynamic_configuration.rst)
 * and the keys its code reads (config.get(...) in patroni/postgresql, ha.py, api.py, watchdog).
 * Newer-release keys are included so a file written for a later Patroni loads quietly too.
 *
 * Three kinds of warning come from here, all naming the key path:
 *  - unknown keys (probably typos);
 *  - keys Patroni itself ignores in the local file (dynamic settings outside bootstrap.dcs);
 *  - real Patroni keys that keel does not implement, where ignoring them silently would
 *    change behaviour (HTTPS on the REST API, custom bootstrap, ...).
 */
import { AUTH_PARAMETERS } from './env.js';
import { isRecord } from './values.js';

/** `true`: a leaf (scalar or list). `'any'`: a free-form mapping. An object: its known sub-keys. */
type KeyTree = { readonly [key: string]: KeyTree | true | 'any' };

const leaves = (...names: string[]): Record<string, true> => Object.fromEntries(names.map((n) => [n, true as const]));

const USER = leaves(
  'username',
  'password',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'sslnegotiation',
  'gssencmode',
  'channel_binding',
);

const ETCD: KeyTree = leaves(
  'host',
  'hosts',
  'port',
  'use_proxies',
  'url',
  'proxy',
  'srv',
  'srv_suffix',
  'protocol',
  'username',
  'password',
  'cacert',
  'ca_cert',
  'cert',
  'key',
  'key_password',
  'verify',
);

/** Keys of the dynamic configuration (bootstrap.dcs and the DCS `config` key). */
export const DYNAMIC_KEYS: KeyTree = {
  ...leaves(
    'ttl',
    'loop_wait',
    'retry_timeout',
    'maximum_lag_on_failover',
    'maximum_lag_on_syncnode',
    'max_timelines_history',
    'primary_start_timeout',
    'primary_stop_timeout',
    'master_start_timeout',
    'master_stop_timeout',
    'synchronous_mode',
    'synchronous_mode_strict',
    'synchronous_node_count',
    'failsafe_mode',
    'check_timeline',
    'pause',
    'member_slots_ttl',
    'ignore_slots',
  ),
  postgresql: { ...leaves('use_pg_rewind', 'use_slots', 'pg_hba', 'pg_ident'), parameters: 'any', recovery_conf: 'any' },
  standby_cluster: leaves(
    'host',
    'port',
    'primary_slot_name',
    'create_replica_methods',
    'restore_command',
    'archive_cleanup_command',
    'recovery_min_apply_delay',
  ),
  slots: 'any',
  permanent_slots: 'any',
  permanent_replication_slots: 'any',
};

const LOCAL_KEYS: KeyTree = {
  ...leaves('name', 'namespace', 'scope', 'thread_pool_size', 'thread_stack_size'),
  log: {
    ...leaves(
      'type',
      'level',
      'traceback_level',
      'format',
      'dateformat',
      'max_queue_size',
      'dir',
      'mode',
      'file_num',
      'file_size',
      'deduplicate_heartbeat_logs',
    ),
    static_fields: 'any',
    loggers: 'any',
  },
  ctl: { ...leaves('insecure', 'cacert', 'certfile', 'keyfile', 'keyfile_password'), authentication: leaves('username', 'password') },
  restapi: {
    ...leaves(
      'listen',
      'connect_address',
      'auth',
      'certfile',
      'keyfile',
      'keyfile_password',
      'cafile',
      'ciphers',
      'verify_client',
      'allowlist',
      'allowlist_include_members',
      'request_queue_size',
      'server_tokens',
      'thread_pool_size',
    ),
    authentication: leaves('username', 'password'),
    http_extra_headers: 'any',
    https_extra_headers: 'any',
  },
  bootstrap: { ...leaves('method', 'initdb', 'pg_hba', 'post_bootstrap', 'post_init'), dcs: DYNAMIC_KEYS, users: 'any' },
  citus: leaves('group', 'database'),
  etcd: ETCD,
  etcd3: ETCD,
  consul: 'any',
  exhibitor: 'any',
  kubernetes: 'any',
  raft: 'any',
  zookeeper: 'any',
  postgresql: {
    ...leaves(
      'listen',
      'connect_address',
      'proxy_address',
      'data_dir',
      'config_dir',
      'bin_dir',
      'pgpass',
      'use_unix_socket',
      'use_unix_socket_repl',
      'custom_conf',
      'pg_hba',
      'pg_ident',
      'pg_ctl_timeout',
      'use_pg_rewind',
      'use_slots',
      'remove_data_directory_on_rewind_failure',
      'remove_data_directory_on_diverged_timelines',
      'create_replica_methods',
      'create_replica_method',
      'pre_promote',
      'before_stop',
      'database',
      'krbsrvname',
      'config_base_name',
      'name',
      'scope',
    ),
    authentication: { superuser: USER, replication: USER, rewind: USER },
    // Patroni's pre-1.0 layout: users directly under postgresql
    superuser: USER,
    replication: USER,
    pg_rewind: USER,
    bin_name: leaves('pg_ctl', 'initdb', 'pg_controldata', 'pgcontroldata', 'pg_basebackup', 'postgres', 'pg_isready', 'pg_rewind'),
    callbacks: leaves('on_reload', 'on_restart', 'on_role_change', 'on_start', 'on_stop'),
    parameters: 'any',
    recovery_conf: 'any',
    basebackup: true,
  },
  watchdog: leaves('mode', 'device', 'safety_margin', 'driver'),
  tags: 'any',
  haproxy: leaves('runtime_sockets', 'write_backend', 'read_backend'),
  // keel's own; its keys are pgBackRest options, checked one by one (backup-section.ts)
  backup: 'any',
};

/** Dynamic settings that Patroni reads only from the DCS; in the local file they are ignored. */
const DYNAMIC_ONLY_TOP_LEVEL = new Set(Object.keys(DYNAMIC_KEYS).filter((k) => k !== 'postgresql'));

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function walk(data: Record<string, unknown>, tree: KeyTree, path: string[], extra: Set<string>, out: string[]): void {
  for (const [key, value] of Object.entries(data)) {
    const here = [...path, key];
    const known = tree[key];
    if (known === undefined) {
      if (extra.has(here.join('.'))) continue;
      if (path.length === 0 && DYNAMIC_ONLY_TOP_LEVEL.has(key)) {
        out.push(`${key}: ignored in the local file (as by Patroni): dynamic settings belong in bootstrap.dcs or \`keel edit-config\``);
      } else {
        out.push(`${here.join('.')}: unknown key, ignored (check the spelling)`);
      }
      continue;
    }
    if (known === true || known === 'any' || !isRecord(value)) continue;
    walk(value, known, here, extra, out);
  }
}

/** Warnings for keys that are not Patroni settings (typos) or that Patroni ignores where they are. */
export function unknownKeyWarnings(data: Record<string, unknown>): string[] {
  const extra = new Set<string>();
  const pg = isRecord(data['postgresql']) ? data['postgresql'] : {};
  // each create_replica_methods entry may have its own section under postgresql
  for (const method of [...stringList(pg['create_replica_methods']), ...stringList(pg['create_replica_method'])]) extra.add(`postgresql.${method}`);
  const bootstrap = isRecord(data['bootstrap']) ? data['bootstrap'] : {};
  // a custom bootstrap method has its own section under bootstrap
  for (const method of stringList(bootstrap['method'])) extra.add(`bootstrap.${method}`);
  const out: string[] = [];
  walk(data, LOCAL_KEYS, [], extra, out);
  if (pg['use_slots'] !== undefined) {
    out.push(
      'postgresql.use_slots: ignored in the local file (as by Patroni): replication slots are switched on or off for the whole cluster in bootstrap.dcs.postgresql or with `keel edit-config`',
    );
  }
  return out;
}

/** Warnings for keys in bootstrap.dcs (or a DCS config) that are not dynamic settings. */
export function unknownDynamicKeyWarnings(data: Record<string, unknown>, prefix: string): string[] {
  const out: string[] = [];
  walk(data, DYNAMIC_KEYS, prefix === '' ? [] : prefix.split('.'), new Set(), out);
  return out;
}

interface Unsupported {
  path: string;
  applies: (value: unknown) => boolean;
  reason: string;
}

const present = (value: unknown): boolean => value !== undefined && value !== null && value !== '' && value !== false;

const UNSUPPORTED: readonly Unsupported[] = [
  { path: 'restapi.http_extra_headers', applies: present, reason: 'extra response headers are not sent by keel yet' },
  { path: 'restapi.https_extra_headers', applies: present, reason: 'extra response headers are not sent by keel yet' },
  {
    path: 'bootstrap.method',
    applies: (v) => present(v) && v !== 'initdb',
    reason: 'custom bootstrap methods are not supported by keel; a new cluster is always created with initdb',
  },
  { path: 'bootstrap.users', applies: present, reason: 'bootstrap.users is not supported by keel (Patroni deprecated it too); create users after bootstrap' },
  { path: 'bootstrap.post_bootstrap', applies: present, reason: 'post-bootstrap scripts are not supported by keel yet; the script will not run' },
  { path: 'bootstrap.post_init', applies: present, reason: 'post-bootstrap scripts are not supported by keel yet; the script will not run' },
  {
    path: 'postgresql.create_replica_methods',
    applies: (v) => stringList(v).some((m) => m !== 'basebackup'),
    reason: 'only the basebackup replica method is supported by keel; other methods are skipped',
  },
  { path: 'postgresql.custom_conf', applies: present, reason: 'custom_conf is not supported by keel yet; postgresql.base.conf is included instead' },
  { path: 'postgresql.pre_promote', applies: present, reason: 'the pre_promote fencing script is not supported by keel yet; it will not run' },
  { path: 'postgresql.before_stop', applies: present, reason: 'the before_stop script is not supported by keel yet; it will not run' },
  { path: 'postgresql.pg_ident', applies: present, reason: 'pg_ident is not managed by keel yet; pg_ident.conf is left as it is' },
  { path: 'postgresql.bin_name', applies: present, reason: 'renamed PostgreSQL binaries are not supported by keel; the standard names in bin_dir are used' },
  { path: 'citus', applies: present, reason: 'Citus integration is not supported by keel' },
];

function valueAt(data: Record<string, unknown>, path: string): unknown {
  let node: unknown = data;
  for (const key of path.split('.')) {
    if (!isRecord(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** Warnings for real Patroni settings that keel does not implement (see the module comment). */
export function unsupportedKeyWarnings(data: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const rule of UNSUPPORTED) {
    if (rule.applies(valueAt(data, rule.path))) out.push(`${rule.path}: ${rule.reason}`);
  }
  const auth = valueAt(data, 'postgresql.authentication');
  if (isRecord(auth)) {
    for (const [user, entry] of Object.entries(auth)) {
      if (!isRecord(entry)) continue;
      for (const key of Object.keys(entry)) {
        if (key !== 'username' && key !== 'password' && (AUTH_PARAMETERS as readonly string[]).includes(key)) {
          out.push(`postgresql.authentication.${user}.${key}: libpq TLS/GSS options per user are not supported by keel yet; the connection uses its defaults`);
        }
      }
    }
  }
  return out;
}
