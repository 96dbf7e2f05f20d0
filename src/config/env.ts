/**
 * PATRONI_* environment overrides, as Patroni 3.0.2 builds them (patroni/config.py,
 * _build_environment_configuration). keel's own KEEL_LOG_FORMAT is read by load.ts.
 *
 * The result is a partial Patroni-format mapping that is patched over the file (environment
 * wins), and a map from each key path it sets to the variable that set it, so that an invalid
 * value is reported against the variable the operator actually wrote.
 *
 * Deviations from Patroni, on purpose:
 *  - the environment is read, never modified (Patroni pops the variables it consumed);
 *  - PATRONI_ETCD[3]_USERNAME/PASSWORD are returned separately and applied to the etcd section
 *    even when no other PATRONI_ETCD[3]_* variable is set (Patroni then mistakes them for a
 *    bootstrap user called "ETCD3");
 *  - PATRONI_<user>_PASSWORD (bootstrap.users, deprecated by Patroni) is not supported: each one
 *    produces a warning instead of a silently ignored user.
 */
import { readYaml } from './yaml-source.js';
import { isRecord, parseBoolLike, parseIntLike } from './values.js';

const PREFIX = 'PATRONI_';

/** Connection parameters Patroni accepts per PostgreSQL user (its _AUTH_ALLOWED_PARAMETERS). */
export const AUTH_PARAMETERS = [
  'username',
  'password',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'gssencmode',
  'channel_binding',
] as const;

const SECTION_VARIABLES: Record<string, readonly string[]> = {
  restapi: [
    'listen',
    'connect_address',
    'certfile',
    'keyfile',
    'keyfile_password',
    'cafile',
    'ciphers',
    'verify_client',
    'http_extra_headers',
    'https_extra_headers',
    'allowlist',
    'allowlist_include_members',
  ],
  ctl: ['insecure', 'cacert', 'certfile', 'keyfile', 'keyfile_password'],
  postgresql: ['listen', 'connect_address', 'proxy_address', 'config_dir', 'data_dir', 'pgpass', 'bin_dir'],
  log: ['level', 'traceback_level', 'format', 'dateformat', 'max_queue_size', 'dir', 'file_size', 'file_num', 'loggers'],
  raft: ['data_dir', 'self_addr', 'partner_addrs', 'password', 'bind_addr'],
};

/** Suffixes of PATRONI_<SECTION>_<SUFFIX> that Patroni routes into any DCS-like section. */
const DCS_SUFFIXES = new Set([
  'HOST',
  'HOSTS',
  'PORT',
  'USE_PROXIES',
  'PROTOCOL',
  'SRV',
  'SRV_SUFFIX',
  'URL',
  'PROXY',
  'CACERT',
  'CERT',
  'KEY',
  'VERIFY',
  'TOKEN',
  'CHECKS',
  'DC',
  'CONSISTENCY',
  'REGISTER_SERVICE',
  'SERVICE_CHECK_INTERVAL',
  'SERVICE_CHECK_TLS_SERVER_NAME',
  'SERVICE_TAGS',
  'NAMESPACE',
  'CONTEXT',
  'USE_ENDPOINTS',
  'SCOPE_LABEL',
  'ROLE_LABEL',
  'POD_IP',
  'PORTS',
  'LABELS',
  'BYPASS_API_SERVICE',
  'RETRIABLE_HTTP_CODES',
  'KEY_PASSWORD',
  'USE_SSL',
  'SET_ACLS',
  'GROUP',
  'DATABASE',
]);
const LIST_SUFFIXES = new Set(['HOSTS', 'PORTS', 'CHECKS', 'SERVICE_TAGS', 'RETRIABLE_HTTP_CODES']);
const DICT_SUFFIXES = new Set(['LABELS', 'SET_ACLS']);
const BOOL_SUFFIXES = new Set(['USE_PROXIES', 'REGISTER_SERVICE', 'USE_ENDPOINTS', 'BYPASS_API_SERVICE', 'VERIFY']);

export interface EnvironmentOverrides {
  /** Partial Patroni-format configuration to patch over the file. */
  config: Record<string, unknown>;
  /** Dotted key path -> the variable that set it. */
  sources: Map<string, string>;
  /** PATRONI_ETCD_USERNAME/PASSWORD and PATRONI_ETCD3_USERNAME/PASSWORD, by section. */
  etcdAuth: { etcd: Record<string, string>; etcd3: Record<string, string> };
  warnings: string[];
}

class Builder {
  readonly config: Record<string, unknown> = {};
  readonly sources = new Map<string, string>();
  readonly consumed = new Set<string>();
  readonly warnings: string[] = [];

  constructor(readonly env: NodeJS.ProcessEnv) {}

  /** Reads PATRONI_<NAME>; empty values count as unset (Patroni's `if value:`). */
  take(name: string): string | undefined {
    const variable = PREFIX + name.toUpperCase();
    const value = this.env[variable];
    if (value === undefined) return undefined;
    this.consumed.add(variable);
    return value === '' ? undefined : value;
  }

  set(path: string[], value: unknown, variable: string): void {
    let node = this.config;
    for (const key of path.slice(0, -1)) {
      if (!isRecord(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1] ?? ''] = value;
    this.sources.set(path.join('.'), variable);
  }

  remaining(): string[] {
    return Object.keys(this.env)
      .filter((k) => k.startsWith(PREFIX) && !this.consumed.has(k))
      .sort();
  }
}

/** Patroni's _parse_list: "a:1,b:2" or "[...]" or a YAML block list. */
function parseList(value: string, variable: string): unknown {
  const text = value.trim().startsWith('-') || value.includes('[') ? value : `[${value}]`;
  try {
    return readYaml(text, variable).data;
  } catch {
    return undefined;
  }
}

/** Patroni's _parse_dict: "{a: 1}" or "a: 1, b: 2". */
function parseDict(value: string, variable: string): unknown {
  const text = value.trim().startsWith('{') ? value : `{${value}}`;
  try {
    return readYaml(text, variable).data;
  } catch {
    return undefined;
  }
}

function converted(name: string, raw: string, variable: string): unknown {
  if (name === 'allowlist_include_members' || name === 'insecure') return parseBoolLike(raw);
  if (name === 'max_queue_size' || name === 'file_size' || name === 'file_num') return parseIntLike(raw);
  if (name === 'partner_addrs' || name === 'allowlist') return parseList(raw, variable);
  if (name === 'http_extra_headers' || name === 'https_extra_headers' || name === 'loggers') return parseDict(raw, variable);
  return raw;
}

function takeSections(b: Builder): void {
  for (const [section, names] of Object.entries(SECTION_VARIABLES)) {
    for (const name of names) {
      const raw = b.take(`${section}_${name}`);
      if (raw === undefined) continue;
      const variable = `${PREFIX}${section.toUpperCase()}_${name.toUpperCase()}`;
      const value = converted(name, raw, variable);
      // Patroni leaves a value out when its conversion fails; keeping the text lets the validator name the variable
      b.set([section, name], value === undefined || value === null ? raw : value, variable);
    }
  }
}

function takeAuthentication(b: Builder): void {
  for (const section of ['restapi', 'ctl']) {
    for (const name of ['username', 'password']) {
      const value = b.take(`${section}_${name}`);
      if (value !== undefined) b.set([section, 'authentication', name], value, `${PREFIX}${section.toUpperCase()}_${name.toUpperCase()}`);
    }
  }
  for (const user of ['replication', 'superuser', 'rewind']) {
    for (const name of AUTH_PARAMETERS) {
      const value = b.take(`${user}_${name}`);
      if (value !== undefined) b.set(['postgresql', 'authentication', user, name], value, `${PREFIX}${user.toUpperCase()}_${name.toUpperCase()}`);
    }
  }
}

function takeDcsVariables(b: Builder, etcdAuth: EnvironmentOverrides['etcdAuth']): void {
  for (const section of ['etcd', 'etcd3'] as const) {
    for (const name of ['username', 'password']) {
      const value = b.take(`${section}_${name}`);
      if (value !== undefined) etcdAuth[section][name] = value;
    }
  }
  for (const variable of b.remaining()) {
    const rest = variable.slice(PREFIX.length);
    const cut = rest.indexOf('_');
    if (cut <= 0) continue;
    const name = rest.slice(0, cut);
    const suffix = rest.slice(cut + 1);
    if (!DCS_SUFFIXES.has(suffix)) continue;
    const raw = b.take(rest);
    if (raw === undefined) continue;
    let value: unknown = raw;
    if (name === 'CITUS') {
      if (suffix === 'GROUP') value = parseIntLike(raw);
      else if (suffix !== 'DATABASE') continue;
    } else if (suffix === 'PORT') value = parseIntLike(raw) ?? raw;
    else if (LIST_SUFFIXES.has(suffix)) value = parseList(raw, variable) ?? raw;
    else if (DICT_SUFFIXES.has(suffix)) value = parseDict(raw, variable);
    else if (BOOL_SUFFIXES.has(suffix)) value = parseBoolLike(raw);
    if (value !== undefined && value !== null) b.set([name.toLowerCase(), suffix.toLowerCase()], value, variable);
  }
}

function warnAboutBootstrapUsers(b: Builder): void {
  for (const variable of b.remaining()) {
    const match = /^PATRONI_(.+)_PASSWORD$/.exec(variable);
    if (match === null || (b.env[variable] ?? '') === '') continue;
    b.warnings.push(
      `${variable}: creating bootstrap users from PATRONI_<user>_PASSWORD (Patroni's bootstrap.users) is not supported by keel; user "${match[1] ?? ''}" will not be created`,
    );
  }
}

/** Builds the overrides from `env` (which is not modified). */
export function environmentOverrides(env: NodeJS.ProcessEnv): EnvironmentOverrides {
  const b = new Builder(env);
  for (const name of ['name', 'namespace', 'scope']) {
    const value = b.take(name);
    if (value !== undefined) b.set([name], value, `${PREFIX}${name.toUpperCase()}`);
  }
  // Patroni's legacy spellings, used only when the new variable is not set
  for (const [legacy, current] of [
    ['LOGLEVEL', 'LOG_LEVEL'],
    ['LOGFORMAT', 'LOG_FORMAT'],
    ['LOG_DATEFMT', 'LOG_DATEFORMAT'],
  ] as const) {
    const value = b.take(legacy);
    if (value !== undefined && (env[PREFIX + current] ?? '') === '') b.set(['log', current.slice(4).toLowerCase()], value, PREFIX + legacy);
  }
  takeSections(b);
  takeAuthentication(b);
  const etcdAuth: EnvironmentOverrides['etcdAuth'] = { etcd: {}, etcd3: {} };
  takeDcsVariables(b, etcdAuth);
  warnAboutBootstrapUsers(b);
  return {
    config: b.config,
    sources: b.sources,
    etcdAuth,
    warnings: b.warnings,
  };
}
