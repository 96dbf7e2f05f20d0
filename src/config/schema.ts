/**
 * The zod schema of a Patroni-format local configuration file (patroni.yml), and the
 * translation of its issues into keel's ConfigError.
 *
 * The schema checks shapes and converts scalars (Patroni's lenient booleans and numbers,
 * "host:port" strings, initdb / basebackup options); defaults and rules that involve several
 * keys (connect_address from listen, etcd endpoints) are applied afterwards by load.ts.
 * Objects are `passthrough`: unknown keys never fail validation (known-keys.ts warns about them).
 *
 * Invariant: a ZodError never leaves this module; callers get a ConfigError naming the key
 * path of the first issue and what was expected there.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import {
  type Parsed,
  describe,
  fail,
  isRecord,
  ok,
  parseBool,
  parseInteger,
  parseListen,
  parseSecondsToMs,
  parseString,
  parseStringList,
  parsePort,
  renderToolOptions,
  splitHostPort,
} from './values.js';
import type { LogConfig, VerifyClient, WatchdogMode } from './types.js';

export type Parser<T> = (value: unknown) => Parsed<T>;

/** An optional scalar: absent or null is undefined, otherwise converted by `parse`. */
export function opt<T>(parse: Parser<T>) {
  return z.unknown().transform((value, ctx): T | undefined => {
    if (value === undefined || value === null) return undefined;
    const parsed = parse(value);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error });
    return z.NEVER;
  });
}

/** A required scalar; `what` says what belongs there when it is missing. */
export function req<T>(parse: Parser<T>, what: string) {
  return z.unknown().transform((value, ctx): T => {
    if (value === undefined || value === null || value === '') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is required (${what})` });
      return z.NEVER;
    }
    const parsed = parse(value);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error });
    return z.NEVER;
  });
}

/** A mapping that may be absent or empty (`tags:` with nothing under it): treated as {}. */
function section<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess((value) => (value === undefined || value === null ? {} : value), z.object(shape).passthrough());
}

/** A mapping whose absence matters (etcd3, restapi.authentication): undefined when absent. */
function optionalSection<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess((value) => (value === null ? {} : value), z.object(shape).passthrough().optional());
}

/** initdb / basebackup options, with the failing item's index or key added to the path. */
function toolOptions(tool: string, notAllowed: readonly string[]) {
  return z.unknown().transform((value, ctx): string[] | undefined => {
    if (value === undefined || value === null) return undefined;
    const rendered = renderToolOptions(tool, value, notAllowed);
    if (rendered.ok) return rendered.value;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: rendered.error, path: 'at' in rendered ? [rendered.at] : [] });
    return z.NEVER;
  });
}

/** postgresql.parameters: scalar values only; null values are dropped (Patroni skips None). */
const parameters = z.unknown().transform((value, ctx): Record<string, string | number | boolean> | undefined => {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a mapping of PostgreSQL parameters, got ${describe(value)}` });
    return z.NEVER;
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [name, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a string, number or boolean, got ${describe(v)}`, path: [name] });
      continue;
    }
    if (name === 'unix_socket_directories' && typeof v !== 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a directory path (a string), got ${describe(v)}`, path: [name] });
      continue;
    }
    out[name] = v;
  }
  return out;
});

/** postgresql.callbacks: event name -> command. */
function parseCallbacks(value: unknown): Parsed<Record<string, string>> {
  if (!isRecord(value)) return fail(`expected a mapping of event name to command, got ${describe(value)}`);
  const out: Record<string, string> = {};
  for (const [event, command] of Object.entries(value)) {
    if (command === null || command === undefined) continue;
    const parsed = parseString(command);
    if (!parsed.ok) return fail(`expected a command string for ${event}, got ${describe(command)}`);
    out[event] = parsed.value;
  }
  return ok(out);
}

/** Patroni's watchdog parse_mode spellings; unlike Patroni an unknown mode is an error, not "off". */
function parseWatchdogMode(value: unknown): Parsed<WatchdogMode> {
  if (value === false) return ok('off');
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (text === 'require' || text === 'required') return ok('required');
  if (text === 'auto' || text === 'automatic') return ok('automatic');
  if (text === 'off' || text === 'disable' || text === 'disabled') return ok('off');
  return fail(`expected one of off, automatic, required, got ${describe(value)}`);
}

/** haproxy.runtime_sockets: HAProxy runtime APIs as unix socket paths or host:port (a string is a one-item list). */
function parseRuntimeSockets(value: unknown): Parsed<string[]> {
  const list = parseStringList(typeof value === 'string' ? [value] : value);
  if (!list.ok) return list;
  for (const socket of list.value) {
    if (!socket.startsWith('/') && !/^([0-9.]+|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(socket))
      return fail(`expected an absolute unix socket path or host:port, got ${describe(socket)}`);
  }
  return ok(list.value);
}

/** An HAProxy backend name (cfgparse accepts letters, digits, '-', '_', '.', ':'). */
function parseBackendName(value: unknown): Parsed<string> {
  const parsed = parseString(value);
  if (!parsed.ok) return parsed;
  return /^[A-Za-z0-9_.:-]+$/.test(parsed.value) ? parsed : fail(`expected an HAProxy backend name (letters, digits, - _ . :), got ${describe(value)}`);
}

const LOG_LEVELS: Record<string, LogConfig['level']> = {
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  warning: 'warning',
  error: 'error',
  critical: 'critical',
  fatal: 'critical',
};

function parseLogLevel(value: unknown): Parsed<LogConfig['level']> {
  const level = typeof value === 'string' ? LOG_LEVELS[value.trim().toLowerCase()] : undefined;
  return level === undefined ? fail(`expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got ${describe(value)}`) : ok(level);
}

/** log.type (Patroni 3.1+): plain or json. */
function parseLogType(value: unknown): Parsed<LogConfig['format']> {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (text === 'plain' || text === 'text') return ok('text');
  if (text === 'json') return ok('json');
  return fail(`expected plain or json, got ${describe(value)}`);
}

/** restapi.verify_client; Patroni lower-cases it and only logs a bad value, keel refuses it. */
function parseVerifyClient(value: unknown): Parsed<VerifyClient> {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  return text === 'none' || text === 'optional' || text === 'required' ? ok(text) : fail(`expected none, optional or required, got ${describe(value)}`);
}

function parseProtocol(value: unknown): Parsed<'http' | 'https'> {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  return text === 'http' || text === 'https' ? ok(text) : fail(`expected http or https, got ${describe(value)}`);
}

/** etcd hosts: a comma-separated string or a list of strings (entries are checked in load.ts). */
function parseHosts(value: unknown): Parsed<string | string[]> {
  if (typeof value === 'string') return ok(value);
  const list = parseStringList(value);
  return list.ok ? list : fail(`expected "host:port,host:port" or a list of "host:port", got ${describe(value)}`);
}

const hostPort: Parser<{ host: string; port: number }> = (value) => splitHostPort(value);

const user = (required: boolean) =>
  section({
    username: required ? req(parseString, 'the user name') : opt(parseString),
    password: opt(parseString),
  });

const etcdSection = optionalSection({
  host: opt(parseString),
  hosts: opt(parseHosts),
  url: opt(parseString),
  proxy: opt(parseString),
  srv: opt(parseString),
  protocol: opt(parseProtocol),
  username: opt(parseString),
  password: opt(parseString),
  port: opt(parsePort),
  cacert: opt(parseString),
  /** python-etcd's own name, which Patroni passes through as well. */
  ca_cert: opt(parseString),
  cert: opt(parseString),
  key: opt(parseString),
});

/** Options Patroni passes to the tools itself (patroni/postgresql/bootstrap.py). */
export const INITDB_NOT_ALLOWED = ['pgdata', 'nosync', 'pwfile', 'sync-only', 'version'] as const;
export const BASEBACKUP_NOT_ALLOWED = [
  'pgdata',
  'format',
  'wal-method',
  'xlog-method',
  'gzip',
  'version',
  'compress',
  'dbname',
  'host',
  'port',
  'username',
  'password',
] as const;

export const localFileSchema = z
  .object({
    name: req(parseString, "this member's name, unique in the cluster"),
    scope: req(parseString, 'the cluster name'),
    namespace: opt(parseString),
    restapi: section({
      listen: req(hostPort, 'address and port the REST API listens on, e.g. "0.0.0.0:8008"'),
      connect_address: opt(hostPort),
      authentication: optionalSection({ username: req(parseString, 'the REST API user name'), password: opt(parseString) }),
      auth: opt(parseString),
      allowlist: opt(parseStringList),
      allowlist_include_members: opt(parseBool),
      certfile: opt(parseString),
      keyfile: opt(parseString),
      keyfile_password: opt(parseString),
      cafile: opt(parseString),
      ciphers: opt(parseString),
      verify_client: opt(parseVerifyClient),
    }),
    ctl: section({
      authentication: optionalSection({ username: req(parseString, 'the REST API user name'), password: opt(parseString) }),
      insecure: opt(parseBool),
      cacert: opt(parseString),
      certfile: opt(parseString),
      keyfile: opt(parseString),
      keyfile_password: opt(parseString),
    }),
    etcd: etcdSection,
    etcd3: etcdSection,
    bootstrap: section({
      dcs: opt((v) => (isRecord(v) ? ok(v) : fail<Record<string, unknown>>(`expected a mapping of dynamic settings, got ${describe(v)}`))),
      initdb: toolOptions('initdb', INITDB_NOT_ALLOWED),
      pg_hba: opt(parseStringList),
      method: opt(parseString),
    }),
    postgresql: section({
      listen: req(parseListen, 'address(es) and port PostgreSQL listens on, e.g. "0.0.0.0:5432"'),
      connect_address: opt(parseString),
      data_dir: req(parseString, 'the PostgreSQL data directory'),
      config_dir: opt(parseString),
      bin_dir: opt(parseString),
      pgpass: opt(parseString),
      authentication: section({
        superuser: user(true),
        replication: user(true),
        rewind: optionalSection({ username: req(parseString, 'the pg_rewind user name'), password: opt(parseString) }),
      }),
      parameters,
      recovery_conf: parameters,
      pg_hba: opt(parseStringList),
      use_unix_socket: opt(parseBool),
      use_unix_socket_repl: opt(parseBool),
      basebackup: toolOptions('pg_basebackup', BASEBACKUP_NOT_ALLOWED),
      remove_data_directory_on_rewind_failure: opt(parseBool),
      remove_data_directory_on_diverged_timelines: opt(parseBool),
      pg_ctl_timeout: opt(parseSecondsToMs),
      callbacks: opt(parseCallbacks),
      use_pg_rewind: opt(parseBool),
    }),
    tags: section({
      nofailover: opt(parseBool),
      noloadbalance: opt(parseBool),
      clonefrom: opt(parseBool),
      nosync: opt(parseBool),
      nostream: opt(parseBool),
      replicatefrom: opt(parseString),
      failover_priority: opt((v) => parseInteger(v, { min: 0 })),
    }),
    watchdog: section({
      mode: opt(parseWatchdogMode),
      device: opt(parseString),
      safety_margin: opt((v) => parseInteger(v, { min: -1 })),
    }),
    log: section({
      level: opt(parseLogLevel),
      type: opt(parseLogType),
      // Patroni's RotatingFileHandler: <dir>/patroni.log, rotated at file_size bytes, file_num old files kept
      dir: opt(parseString),
      file_size: opt((v) => parseInteger(v, { min: 0 })),
      file_num: opt((v) => parseInteger(v, { min: 0 })),
    }),
    // keel's own: where the agent announces role changes to HAProxy (absent: it relies on the health checks alone)
    haproxy: optionalSection({
      runtime_sockets: req(parseRuntimeSockets, 'the HAProxy runtime API sockets to tell about role changes'),
      write_backend: opt(parseBackendName),
      read_backend: opt(parseBackendName),
    }),
    // keel's own; its keys are pgBackRest options, checked against pgBackRest's option table in backup-section.ts
    backup: z.unknown(),
  })
  .passthrough();

export type LocalFile = z.infer<typeof localFileSchema>;

/** Renders a key path as written in YAML terms: `bootstrap.initdb[1]`, `postgresql.listen`. */
export function renderPath(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function valueAt(data: unknown, path: ReadonlyArray<string | number>): unknown {
  let node = data;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === 'number') node = node[key];
    else if (isRecord(node)) node = node[String(key)];
    else return undefined;
  }
  return node;
}

const TYPE_NAMES: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'a boolean' };

/** One issue as `{ path, message }`, the message saying what was expected and what was found. */
export function renderIssue(issue: z.ZodIssue, input: unknown): { path: string; message: string } {
  const path = renderPath(issue.path);
  if (issue.code === z.ZodIssueCode.invalid_type) {
    return { path, message: `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${describe(valueAt(input, issue.path))}` };
  }
  return { path, message: issue.message };
}

/** The environment variable behind a path (or one of its parents), when there is one. */
export function sourceOf(path: string, sources: ReadonlyMap<string, string>): string | undefined {
  for (let p = path.replace(/\[\d+\]/g, ''); p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const variable = sources.get(p);
    if (variable !== undefined) return variable;
  }
  return undefined;
}

/** " (set by PATRONI_X)" for values that came from the environment, else ''. */
export function sourceNote(path: string, sources: ReadonlyMap<string, string>): string {
  const variable = sourceOf(path, sources);
  return variable === undefined ? '' : ` (set by ${variable})`;
}

/** Where the operator fixes a value: the variable that set it, or the file. */
export function fixHint(path: string, sources: ReadonlyMap<string, string>, origin: string): string {
  const variable = sourceOf(path, sources);
  return variable === undefined ? `fix it in ${origin}` : `fix ${variable}`;
}

/** Validates `input`; the first issue becomes the ConfigError, the next few its hint. */
export function parseLocalFile(input: Record<string, unknown>, origin: string, sources: ReadonlyMap<string, string>): LocalFile {
  const result = localFileSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => renderIssue(issue, input));
  const first = issues[0] ?? { path: '', message: 'invalid configuration' };
  const more = issues.slice(1, 4).map((i) => `${i.path}: ${i.message}${sourceNote(i.path, sources)}`);
  const extra = issues.length > 4 ? `; and ${issues.length - 4} more` : '';
  const fix = fixHint(first.path, sources, origin);
  const hint = more.length === 0 ? fix : `${fix}; also: ${more.join('; ')}${extra}`;
  throw new ConfigError(first.path, `${first.message}${sourceNote(first.path, sources)}`, hint);
}
