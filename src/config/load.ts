/**
 * Loading a Patroni-format patroni.yml (plus PATRONI_* / KEEL_* environment overrides) into
 * keel's LocalConfig.
 *
 * Order, as in Patroni: read the YAML (a file, or every *.yml in a directory), patch the
 * environment over it (the environment wins), validate, then fill in defaults. Validation is
 * complete before anything is returned: an invalid file throws one ConfigError naming the key
 * path and what was expected there (exit code 2, nothing started); a YAML syntax error names
 * the line. Unknown keys never fail, they add a warning.
 *
 * Defaults where Patroni leaves a choice, and why:
 *  - pgpass: `<parent of data_dir>/.pgpass.<name>` - readable by the postgres OS user even when
 *    keel runs as root (Patroni's ~/pgpass would be root's home), outside the data directory
 *    (pg_basebackup needs it empty) and distinct per member when several share a host;
 *  - bin_dir: the newest /usr/lib/postgresql/<N>/bin or /usr/pgsql-<N>/bin holding `postgres`,
 *    else '' (PATH), where Patroni always uses PATH;
 *  - connect_address (restapi and postgresql): the listen address when that is a specific
 *    address; required when listen is a wildcard such as 0.0.0.0, since other members could not
 *    reach it.
 */
import { isIP } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { environmentOverrides } from './env.js';
import { type Fail, resolveEtcd } from './etcd.js';
import { unknownKeyWarnings, unsupportedKeyWarnings } from './known-keys.js';
import { validateDynamicConfig } from './dynamic.js';
import { isClusterWideParameter } from './parameters.js';
import { type LocalFile, fixHint, parseLocalFile, sourceNote } from './schema.js';
import { parseBackupSection } from './backup-section.js';
import { buildCtl, checkClientTls, checkEtcdTls, restApiTls } from './tls-sections.js';
import type { Credentials, HostPort, LocalConfig, LogConfig, PostgresLocalConfig, RestApiConfig, Tags } from './types.js';
import { isRecord, isWildcardHost, normaliseNamespace, splitHostPort } from './values.js';
import { patchConfig, readConfigPath, readYaml } from './yaml-source.js';

export interface LoadOptions {
  /** Finds PostgreSQL's binaries when bin_dir is not set ('' = use PATH). Default: findPostgresBinDir. */
  findBinDir?: () => string;
}

/** Loads `path` (a file or a directory of *.yml files) with the environment's overrides. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv, options: LoadOptions = {}): LocalConfig {
  const file = resolve(path);
  const inline = env['PATRONI_CONFIGURATION'];
  if (!existsSync(file) && inline !== undefined && inline !== '') {
    // Patroni: a missing file with PATRONI_CONFIGURATION set means "the whole configuration is
    // in that variable", and then no other PATRONI_* variable is considered.
    const read = readYaml(inline, 'PATRONI_CONFIGURATION');
    return build(read.data, 'PATRONI_CONFIGURATION', null, env, read.warnings, { ...options, patroniEnvironment: false });
  }
  const read = readConfigPath(file);
  return build(read.data, file, file, env, read.warnings, { ...options, patroniEnvironment: true });
}

/**
 * Parses configuration text (`file` is where it came from, for messages and LocalConfig.file).
 * Empty text gives a configuration built from the environment alone, as Patroni does.
 */
export function parseConfig(text: string, file: string | null, env: NodeJS.ProcessEnv, options: LoadOptions = {}): LocalConfig {
  const absolute = file === null ? null : resolve(file);
  const origin = absolute ?? 'configuration';
  const read = readYaml(text, origin);
  return build(read.data, origin, absolute, env, read.warnings, { ...options, patroniEnvironment: true });
}

function build(
  data: unknown,
  origin: string,
  file: string | null,
  env: NodeJS.ProcessEnv,
  yamlWarnings: string[],
  options: LoadOptions & { patroniEnvironment: boolean },
): LocalConfig {
  if (data !== null && !isRecord(data)) {
    throw new ConfigError('', `${origin}: expected a mapping of settings at the top level, got ${Array.isArray(data) ? 'a list' : 'a single value'}`);
  }
  const warnings = [...yamlWarnings];
  const merged = structuredClone(data ?? {});
  warnings.push(...convertLegacyAuthentication(merged));
  const overrides = environmentOverrides(options.patroniEnvironment ? env : {});
  patchConfig(merged, overrides.config);
  warnings.push(...overrides.warnings, ...applyEtcdAuth(merged, overrides.etcdAuth));
  if (Object.keys(merged).length === 0) {
    throw new ConfigError('', `${origin}: the configuration is empty`, 'a patroni.yml needs at least scope, name, restapi, etcd3 and postgresql');
  }
  warnings.push(...unknownKeyWarnings(merged), ...unsupportedKeyWarnings(merged));

  const parsed = parseLocalFile(merged, origin, overrides.sources);
  const fail = (path: string, message: string, hint?: string): never => {
    throw new ConfigError(path, `${message}${sourceNote(path, overrides.sources)}`, hint ?? fixHint(path, overrides.sources, origin));
  };
  warnings.push(...checkBootstrapDcs(parsed, fail));
  warnings.push(...localClusterWideParameterWarnings(parsed));

  const etcd = resolveEtcd(merged, parsed, fail, warnings);
  checkEtcdTls(etcd, parsed.etcd !== undefined ? 'etcd' : 'etcd3', fail, warnings);
  const postgresql = buildPostgresql(parsed, fail, options.findBinDir ?? findPostgresBinDir);
  const restapi = buildRestApi(parsed, fail, warnings);
  const ctl = buildCtl(parsed);
  checkClientTls(restapi, ctl, fail);
  const backup = parseBackupSection(merged['backup'], {
    name: parsed.name,
    dataDir: postgresql.dataDir,
    port: postgresql.listen.port,
    socketDir: firstSocketDirectory(postgresql.parameters['unix_socket_directories']),
    superuser: postgresql.authentication.superuser.username,
  });
  return {
    file,
    scope: parsed.scope,
    namespace: normaliseNamespace(parsed.namespace ?? 'service'),
    name: parsed.name,
    restapi,
    ctl,
    etcd,
    bootstrap: {
      dcs: structuredClone(parsed.bootstrap.dcs ?? {}),
      initdbArgs: parsed.bootstrap.initdb ?? [],
      pgHba: parsed.bootstrap.pg_hba ?? [],
    },
    postgresql,
    tags: buildTags(parsed, merged),
    watchdog: {
      mode: parsed.watchdog.mode ?? 'automatic',
      device: parsed.watchdog.device ?? '/dev/watchdog',
      safetyMarginMs: parsed.watchdog.safety_margin === undefined ? 5000 : parsed.watchdog.safety_margin === -1 ? -1 : parsed.watchdog.safety_margin * 1000,
    },
    // KEEL_LOG_FORMAT is keel's own: it applies even when PATRONI_CONFIGURATION holds the whole config
    log: buildLog(parsed, env['KEEL_LOG_FORMAT'] === '' ? undefined : env['KEEL_LOG_FORMAT']),
    ...(parsed.haproxy === undefined
      ? {}
      : {
          haproxy: {
            runtimeSockets: parsed.haproxy.runtime_sockets,
            // the names keel haproxy-config (and the seed's haproxy.cfg) give them
            writeBackend: parsed.haproxy.write_backend ?? 'postgres_write',
            readBackend: parsed.haproxy.read_backend ?? 'postgres_read',
          },
        }),
    ...(backup === undefined ? {} : { backup }),
    warnings,
  };
}

/** The first absolute unix_socket_directories entry (libpq's default directory when none). */
function firstSocketDirectory(setting: string | number | boolean | undefined): string {
  const entries = typeof setting === 'string' ? setting.split(',').map((d) => d.trim()) : [];
  return entries.find((d) => d.startsWith('/')) ?? '/var/run/postgresql';
}

/** Patroni's pre-1.0 layout kept users directly under postgresql; it converts them, so do we. */
function convertLegacyAuthentication(config: Record<string, unknown>): string[] {
  const pg = config['postgresql'];
  if (!isRecord(pg) || pg['authentication'] !== undefined) return [];
  const superuser = pg['superuser'] ?? pg['pg_rewind'];
  if (pg['replication'] === undefined && superuser === undefined) return [];
  pg['authentication'] = { ...(pg['replication'] === undefined ? {} : { replication: pg['replication'] }), ...(superuser === undefined ? {} : { superuser }) };
  return ['postgresql.superuser / postgresql.replication: old Patroni layout, read as postgresql.authentication.*; please move them there'];
}

function applyEtcdAuth(config: Record<string, unknown>, auth: { etcd: Record<string, string>; etcd3: Record<string, string> }): string[] {
  const warnings: string[] = [];
  for (const section of ['etcd', 'etcd3'] as const) {
    const entries = auth[section];
    if (Object.keys(entries).length === 0) continue;
    const target = config[section];
    if (isRecord(target)) Object.assign(target, entries);
    else warnings.push(`PATRONI_${section.toUpperCase()}_USERNAME/PASSWORD: ignored, there is no ${section} section`);
  }
  return warnings;
}

/** Wrong types in bootstrap.dcs are errors; values Patroni would silently replace are warnings. */
function checkBootstrapDcs(parsed: LocalFile, fail: Fail): string[] {
  const dcs = parsed.bootstrap.dcs;
  if (dcs === undefined) return [];
  const problems = validateDynamicConfig(dcs);
  const at = (path: string): string => (path === '' ? 'bootstrap.dcs' : `bootstrap.dcs.${path}`);
  const error = problems.find((p) => p.severity === 'error');
  if (error !== undefined) fail(at(error.path), error.message.replace(/; (using|ignored).*$/, ''));
  return problems.map((p) => `${at(p.path)}: ${p.message}`);
}

function localClusterWideParameterWarnings(parsed: LocalFile): string[] {
  return Object.keys(parsed.postgresql.parameters ?? {})
    .filter((name) => isClusterWideParameter(name))
    .map(
      (name) =>
        `postgresql.parameters.${name}: ignored in the local file (as by Patroni): it must be equal on every member, set it in bootstrap.dcs.postgresql.parameters or with \`keel edit-config\``,
    );
}

function buildRestApi(parsed: LocalFile, fail: Fail, warnings: string[]): RestApiConfig {
  const api = parsed.restapi;
  const connectAddress = api.connect_address ?? (isWildcardHost(api.listen.host) ? undefined : api.listen);
  if (connectAddress === undefined) {
    return fail(
      'restapi.connect_address',
      `is required when restapi.listen is a wildcard address ("${api.listen.host}:${api.listen.port}")`,
      'give the address other members and load balancers use to reach this REST API, e.g. 10.0.1.21:8008',
    );
  }
  let authentication: Credentials | undefined;
  if (api.authentication !== undefined) {
    authentication = { username: api.authentication.username, ...(api.authentication.password === undefined ? {} : { password: api.authentication.password }) };
  } else if (api.auth !== undefined) {
    const cut = api.auth.indexOf(':');
    if (cut <= 0) fail('restapi.auth', `expected "username:password", got ${JSON.stringify(api.auth)}`);
    authentication = { username: api.auth.slice(0, cut), password: api.auth.slice(cut + 1) };
  }
  for (const entry of api.allowlist ?? []) {
    const [net, bits, extra] = entry.split('/');
    const max = isIP(net ?? '') === 4 ? 32 : isIP(net ?? '') === 6 ? 128 : -1;
    if (bits !== undefined && (max < 0 || extra !== undefined || !/^\d+$/.test(bits) || Number(bits) > max)) {
      fail('restapi.allowlist', `"${entry}" is not an address, a network in CIDR notation (e.g. 10.0.1.0/24) or a host name`);
    }
  }
  return {
    listen: api.listen,
    connectAddress,
    ...(authentication === undefined ? {} : { authentication }),
    allowlist: api.allowlist ?? [],
    allowlistIncludeMembers: api.allowlist_include_members ?? false,
    ...restApiTls(api, fail, warnings),
  };
}

function credentials(user: { username?: string | undefined; password?: string | undefined }, path: string, fail: Fail): Credentials {
  if (user.username === undefined) return fail(`${path}.username`, 'is required (the user name)');
  return { username: user.username, ...(user.password === undefined ? {} : { password: user.password }) };
}

function buildPostgresql(parsed: LocalFile, fail: Fail, findBinDir: () => string): PostgresLocalConfig {
  const pg = parsed.postgresql;
  const listenHost = pg.listen.hosts[0] ?? '*';
  let connectAddress: HostPort;
  if (pg.connect_address !== undefined) {
    // without a port, the listen port (Patroni would leave the port out of the URL, meaning 5432)
    const parsedAddress = splitHostPort(pg.connect_address, pg.listen.port);
    if (!parsedAddress.ok) return fail('postgresql.connect_address', parsedAddress.error);
    connectAddress = parsedAddress.value;
  } else if (isWildcardHost(listenHost)) {
    return fail(
      'postgresql.connect_address',
      `is required when postgresql.listen is a wildcard address ("${pg.listen.hosts.join(',')}:${pg.listen.port}")`,
      'give the address other members use to replicate from this one, e.g. 10.0.1.21:5432',
    );
  } else {
    connectAddress = { host: listenHost, port: pg.listen.port };
  }
  const auth = pg.authentication;
  const rewind = auth.rewind === undefined ? undefined : credentials(auth.rewind, 'postgresql.authentication.rewind', fail);
  return {
    listen: pg.listen,
    connectAddress,
    dataDir: pg.data_dir,
    binDir: pg.bin_dir ?? findBinDir(),
    configDir: pg.config_dir ?? pg.data_dir,
    pgpass: pg.pgpass ?? join(dirname(pg.data_dir), `.pgpass.${parsed.name}`),
    authentication: {
      superuser: credentials(auth.superuser, 'postgresql.authentication.superuser', fail),
      replication: credentials(auth.replication, 'postgresql.authentication.replication', fail),
      ...(rewind === undefined ? {} : { rewind }),
    },
    parameters: pg.parameters ?? {},
    ...(pg.pg_hba === undefined ? {} : { pgHba: pg.pg_hba }),
    useUnixSocket: pg.use_unix_socket ?? false,
    useUnixSocketRepl: pg.use_unix_socket_repl ?? false,
    basebackupArgs: pg.basebackup ?? [],
    removeDataDirectoryOnRewindFailure: pg.remove_data_directory_on_rewind_failure ?? false,
    removeDataDirectoryOnDivergedTimelines: pg.remove_data_directory_on_diverged_timelines ?? false,
    pgCtlTimeoutMs: pg.pg_ctl_timeout ?? 60_000,
    callbacks: pg.callbacks ?? {},
    ...(pg.use_pg_rewind === undefined ? {} : { usePgRewind: pg.use_pg_rewind }),
    ...(pg.recovery_conf === undefined || Object.keys(pg.recovery_conf).length === 0 ? {} : { recoveryConf: pg.recovery_conf }),
  };
}

/**
 * Patroni 3.3 semantics: an explicit nofailover wins; otherwise failover_priority <= 0 means
 * nofailover. `raw` keeps the tags mapping exactly as written.
 */
function buildTags(parsed: LocalFile, merged: Record<string, unknown>): Tags {
  const t = parsed.tags;
  const nofailover = t.nofailover ?? (t.failover_priority !== undefined && t.failover_priority <= 0);
  return {
    nofailover,
    noloadbalance: t.noloadbalance ?? false,
    clonefrom: t.clonefrom ?? false,
    nosync: t.nosync ?? false,
    nostream: t.nostream ?? false,
    ...(t.replicatefrom === undefined ? {} : { replicatefrom: t.replicatefrom }),
    ...(t.failover_priority === undefined ? {} : { failoverPriority: t.failover_priority }),
    raw: isRecord(merged['tags']) ? structuredClone(merged['tags']) : {},
  };
}

function buildLog(parsed: LocalFile, keelLogFormat: string | undefined): LogConfig {
  let format: LogConfig['format'] = parsed.log.type ?? 'text';
  if (keelLogFormat !== undefined) {
    const wanted = keelLogFormat.trim().toLowerCase();
    if (wanted !== 'json' && wanted !== 'text') throw new ConfigError('KEEL_LOG_FORMAT', `expected json or text, got ${JSON.stringify(keelLogFormat)}`);
    format = wanted;
  }
  const log: LogConfig = { level: parsed.log.level ?? 'info', format };
  if (parsed.log.dir !== undefined && parsed.log.dir !== '') {
    log.file = { dir: parsed.log.dir, sizeMaxBytes: parsed.log.file_size ?? 25_000_000, keptFiles: parsed.log.file_num ?? 4 };
  }
  return log;
}

// ---- bin_dir ---------------------------------------------------------------------------------

/**
 * The newest PostgreSQL server binaries in the usual package locations (Debian:
 * /usr/lib/postgresql/<N>/bin, PGDG RPMs: /usr/pgsql-<N>/bin), or '' to use PATH.
 */
export function findPostgresBinDir(roots: { debian: string; rpmParent: string } = { debian: '/usr/lib/postgresql', rpmParent: '/usr' }): string {
  const candidates: Array<{ version: number; dir: string }> = [];
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const entry of list(roots.debian)) {
    if (/^\d+(\.\d+)?$/.test(entry)) candidates.push({ version: Number(entry), dir: join(roots.debian, entry, 'bin') });
  }
  for (const entry of list(roots.rpmParent)) {
    const match = /^pgsql-(\d+(\.\d+)?)$/.exec(entry);
    if (match !== null) candidates.push({ version: Number(match[1]), dir: join(roots.rpmParent, entry, 'bin') });
  }
  candidates.sort((a, b) => b.version - a.version);
  return candidates.find((c) => existsSync(join(c.dir, 'postgres')))?.dir ?? '';
}
