/**
 * pgBackRest-style configuration for `keel backup` (and `keel pgbackrest`): the INI file
 * (/etc/pgbackrest.conf by default, `--config` to change it) with `[global]`, `[<stanza>]` and
 * `[global:<command>]` / `[<stanza>:<command>]` sections, `PGBACKREST_<OPTION>` environment
 * variables and `--option=value` on the command line. Precedence is pgBackRest's: command line,
 * then environment, then the stanza's sections, then the global ones, then the default.
 *
 * Every option keel knows is in OPTIONS; an unknown or invalid one is a one-line ConfigError
 * naming it and where it came from (file, variable or argument), so a typo is never ignored.
 */
import { readFileSync } from 'node:fs';
import { parse as parseIni } from 'ini';
import { ConfigError } from '../errors.js';

type OptionKind =
  | { kind: 'string' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  /** pgBackRest's key/value options (`--tablespace-map=ts1=/path`, repeatable). */
  | { kind: 'keyValue' }
  /** pgBackRest's size type: bytes, or a number with a power-of-1024 suffix (KB/KiB, MB/MiB, GB/GiB, TB/TiB, PB/PiB, any case). */
  | { kind: 'size' };

interface OptionSpec {
  type: OptionKind;
  default?: string | number | boolean;
  /** Options that only make sense on the command line (pgBackRest refuses them in the file). */
  commandLineOnly?: boolean;
  /** Accepted and stored but with no effect in keel yet (said in --help-like docs, not silently). */
  secret?: boolean;
}

const str: OptionKind = { kind: 'string' };
const bool: OptionKind = { kind: 'bool' };
const size: OptionKind = { kind: 'size' };
const int = (min: number, max: number): OptionKind => ({ kind: 'int', min, max });
const oneOf = (...values: string[]): OptionKind => ({ kind: 'enum', values });
const keyValue: OptionKind = { kind: 'keyValue' };

export const OPTIONS = {
  config: { type: str, default: '/etc/pgbackrest.conf', commandLineOnly: true },
  stanza: { type: str, commandLineOnly: true },
  'repo1-path': { type: str, default: '/var/lib/pgbackrest' },
  'repo1-type': { type: oneOf('posix'), default: 'posix' },
  'repo1-retention-full': { type: int(1, 9_999_999) },
  'repo1-retention-full-type': { type: oneOf('count'), default: 'count' },
  'repo1-retention-diff': { type: int(1, 9_999_999) },
  'repo1-retention-archive': { type: int(1, 9_999_999) },
  'repo1-retention-archive-type': { type: oneOf('full', 'diff', 'incr'), default: 'full' },
  'repo1-cipher-type': { type: oneOf('none', 'aes-256-cbc'), default: 'none' },
  'repo1-cipher-pass': { type: str, secret: true },
  'pg1-path': { type: str },
  'pg1-port': { type: int(1, 65535), default: 5432 },
  'pg1-user': { type: str, default: 'postgres' },
  'pg1-database': { type: str, default: 'postgres' },
  'pg1-socket-path': { type: str, default: '/var/run/postgresql' },
  // pg2: a standby for --backup-standby (or the primary, when pg1 is the standby); local only
  'pg2-path': { type: str },
  'pg2-port': { type: int(1, 65535), default: 5432 },
  'pg2-user': { type: str, default: 'postgres' },
  'pg2-database': { type: str, default: 'postgres' },
  'pg2-socket-path': { type: str, default: '/var/run/postgresql' },
  'log-level-console': { type: oneOf('off', 'error', 'warn', 'info', 'detail', 'debug', 'trace'), default: 'warn' },
  'log-level-file': { type: oneOf('off', 'error', 'warn', 'info', 'detail', 'debug', 'trace'), default: 'info' },
  'log-level-stderr': { type: oneOf('off', 'error', 'warn', 'info', 'detail', 'debug', 'trace'), default: 'warn' },
  'log-path': { type: str, default: '/var/log/pgbackrest' },
  'process-max': { type: int(1, 999), default: 1 },
  'compress-type': { type: oneOf('none', 'gz', 'zst'), default: 'zst' },
  'compress-level': { type: int(-5, 22) },
  'archive-async': { type: bool, default: false },
  'archive-timeout': { type: int(1, 86_400), default: 60 },
  'archive-check': { type: bool, default: true },
  'spool-path': { type: str, default: '/var/spool/pgbackrest' },
  'archive-get-queue-max': { type: size, default: 128 * 1024 * 1024 },
  'start-fast': { type: bool, default: false },
  'backup-standby': { type: bool, default: false },
  type: { type: str, commandLineOnly: true },
  set: { type: str, commandLineOnly: true },
  target: { type: str, commandLineOnly: true },
  'target-action': { type: oneOf('pause', 'promote', 'shutdown'), default: 'pause', commandLineOnly: true },
  'target-exclusive': { type: bool, default: false, commandLineOnly: true },
  'target-timeline': { type: str, commandLineOnly: true },
  delta: { type: bool, default: false },
  force: { type: bool, default: false, commandLineOnly: true },
  'tablespace-map': { type: keyValue },
  'tablespace-map-all': { type: str },
  output: { type: oneOf('text', 'json'), default: 'text', commandLineOnly: true },
  progress: { type: bool, commandLineOnly: true },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
export type OptionValue = string | number | boolean | readonly string[];
export type ResolvedOptions = Partial<Record<OptionName, OptionValue>>;

/** Where each value came from, for error messages ("--pg1-port", "PGBACKREST_PG1_PORT", "file:[global]"). */
export interface BackupSettings {
  command: string;
  /** Positional arguments after the command (archive-push %p, archive-get %f %p). */
  parameters: string[];
  options: ResolvedOptions;
  sources: Partial<Record<OptionName, string>>;
}

function specOf(name: string): OptionSpec | undefined {
  return (OPTIONS as Record<string, OptionSpec>)[name];
}

/** Converts one raw value of `name` per its spec; throws a ConfigError naming `source`. */
export function convertOption(name: string, raw: string | boolean | readonly string[], source: string): OptionValue {
  const spec = specOf(name);
  if (spec === undefined) throw new ConfigError('', `${source}: unknown option '${name}'`);
  if (spec.type.kind === 'keyValue') {
    const values = typeof raw === 'boolean' ? [String(raw)] : typeof raw === 'string' ? [raw] : raw;
    for (const value of values) {
      if (!/^[^=]+=.+$/.test(value)) throw new ConfigError('', `${source}: invalid value '${value}' for option '${name}' (key=value)`);
    }
    return values;
  }
  if (typeof raw !== 'string' && typeof raw !== 'boolean') throw new ConfigError('', `${source}: option '${name}' is given more than once`);
  const text = typeof raw === 'boolean' ? (raw ? 'y' : 'n') : raw.trim();
  const invalid = (expected: string) => new ConfigError('', `${source}: invalid value '${text}' for option '${name}' (${expected})`);
  switch (spec.type.kind) {
    case 'string':
      if (text === '') throw invalid('a non-empty value');
      return text;
    case 'int': {
      if (!/^-?\d+$/.test(text)) throw invalid('an integer');
      const value = Number(text);
      if (value < spec.type.min || value > spec.type.max) throw invalid(`${spec.type.min} to ${spec.type.max}`);
      return value;
    }
    case 'bool':
      if (['y', 'yes', 'true', '1'].includes(text.toLowerCase())) return true;
      if (['n', 'no', 'false', '0'].includes(text.toLowerCase())) return false;
      throw invalid('y or n');
    case 'enum':
      if (!spec.type.values.includes(text)) throw invalid(`one of ${spec.type.values.join(', ')}`);
      return text;
    case 'size': {
      const match = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib|pb|pib)?$/i.exec(text);
      if (match === null) throw invalid('a size such as 128MiB');
      const power = ['b', 'k', 'm', 'g', 't', 'p'].indexOf((match[2] ?? 'b').toLowerCase()[0] ?? 'b');
      return Number(match[1]) * 1024 ** power;
    }
  }
}

export interface ParsedCommandLine {
  command: string | null;
  parameters: string[];
  /** A key/value option given several times keeps every value. */
  options: Map<string, string | boolean | string[]>;
}

/**
 * Splits pgBackRest-style arguments: `--name=value`, `--name value`, `--name` (a boolean),
 * `--no-name` (a negated boolean or a reset option), and positionals (the first is the command).
 * Options may come before or after the command, as pgBackRest takes them.
 */
export function parseCommandLine(args: readonly string[]): ParsedCommandLine {
  const options = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const body = arg.slice(2);
    const equals = body.indexOf('=');
    let name = equals < 0 ? body : body.slice(0, equals);
    let value: string | boolean;
    if (equals >= 0) value = body.slice(equals + 1);
    else if (name.startsWith('no-') && specOf(name.slice(3))?.type.kind === 'bool') {
      name = name.slice(3);
      value = false;
    } else {
      const spec = specOf(name);
      if (spec === undefined) throw new ConfigError('', `unknown option '--${name}'`);
      if (spec.type.kind === 'bool') value = true;
      else {
        const next = args[i + 1];
        if (next === undefined) throw new ConfigError('', `option '--${name}' requires a value`);
        value = next;
        i++;
      }
    }
    if (specOf(name) === undefined) throw new ConfigError('', `unknown option '--${name}'`);
    if (specOf(name)?.type.kind === 'keyValue') {
      const earlier = options.get(name);
      options.set(name, [...(Array.isArray(earlier) ? earlier : []), String(value)]);
    } else options.set(name, value);
  }
  return { command: positionals[0] ?? null, parameters: positionals.slice(1), options };
}

/** PGBACKREST_REPO1_PATH -> repo1-path; unknown PGBACKREST_* variables are errors (pgBackRest warns). */
export function optionsFromEnvironment(env: Readonly<Record<string, string | undefined>>): Map<string, { value: string; variable: string }> {
  const result = new Map<string, { value: string; variable: string }>();
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith('PGBACKREST_') || value === undefined) continue;
    const name = variable.slice('PGBACKREST_'.length).toLowerCase().replaceAll('_', '-');
    if (specOf(name) === undefined) throw new ConfigError('', `environment variable ${variable}: unknown option '${name}'`);
    result.set(name, { value, variable });
  }
  return result;
}

/** Sections of an INI text, in pgBackRest's precedence order for a stanza and command (highest first). */
export function optionsFromIni(text: string, file: string, stanza: string | null, command: string): Map<string, { value: string; section: string }> {
  const parsed = parseIni(text) as Record<string, unknown>;
  const order = [...(stanza === null ? [] : [`${stanza}:${command}`, stanza]), `global:${command}`, 'global'];
  const result = new Map<string, { value: string; section: string }>();
  for (const [section, body] of Object.entries(parsed)) {
    if (body === null || typeof body !== 'object') {
      throw new ConfigError('', `${file}: option '${section}' is outside any section (put it under [global] or [stanza])`);
    }
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      const spec = specOf(name);
      if (spec === undefined) throw new ConfigError('', `${file} [${section}]: unknown option '${name}'`);
      if (spec.commandLineOnly === true) throw new ConfigError('', `${file} [${section}]: option '${name}' is allowed only on the command line`);
      if (typeof value === 'object') throw new ConfigError('', `${file} [${section}]: option '${name}' is not a single value`);
    }
  }
  for (const section of [...order].reverse()) {
    const body = parsed[section];
    if (body === undefined || body === null || typeof body !== 'object') continue;
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) result.set(name, { value: String(value), section });
  }
  return result;
}

/**
 * Resolves the settings of one invocation: `args` are pgBackRest-style (options and the command
 * in any order), `readFile` reads the config file (injected for tests). A missing default config
 * file is fine (pgBackRest runs without one); a missing --config file is an error.
 */
export function resolveBackupSettings(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string | null = readTextIfExists,
): BackupSettings {
  const line = parseCommandLine(args);
  if (line.command === null)
    throw new ConfigError('', 'no command given (stanza-create, stanza-upgrade, check, backup, info, restore, expire, verify, archive-push, archive-get)');
  const fromEnv = optionsFromEnvironment(env);
  const configArg = line.options.get('config') ?? fromEnv.get('config')?.value;
  const configPath = typeof configArg === 'string' ? configArg : String(OPTIONS.config.default);
  const text = readFile(configPath);
  if (text === null && configArg !== undefined) throw new ConfigError('', `config file ${configPath} cannot be read`);
  const stanzaRaw = line.options.get('stanza') ?? fromEnv.get('stanza')?.value ?? null;
  const stanza = typeof stanzaRaw === 'string' ? stanzaRaw : null;
  const fromFile = text === null ? new Map<string, { value: string; section: string }>() : optionsFromIni(text, configPath, stanza, line.command);

  const options: ResolvedOptions = {};
  const sources: Partial<Record<OptionName, string>> = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const cli = line.options.get(name);
    const envValue = fromEnv.get(name);
    const fileValue = fromFile.get(name);
    let source: string | null = null;
    let raw: string | boolean | string[] | null = null;
    if (cli !== undefined) [source, raw] = [`option --${name}`, cli];
    else if (envValue !== undefined) [source, raw] = [`environment variable ${envValue.variable}`, envValue.value];
    else if (fileValue !== undefined) [source, raw] = [`${configPath} [${fileValue.section}]`, fileValue.value];
    if (source !== null && raw !== null) {
      options[name] = convertOption(name, raw, source);
      sources[name] = source;
    } else {
      const fallback = (OPTIONS[name] as OptionSpec).default;
      if (fallback !== undefined) options[name] = fallback;
    }
  }
  if (options['config'] === undefined) options['config'] = configPath;
  return { command: line.command, parameters: line.parameters, options, sources };
}

function readTextIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** A required option, or a one-line error naming it. */
export function requireOption(settings: BackupSettings, name: OptionName): OptionValue {
  const value = settings.options[name];
  if (value === undefined) throw new ConfigError('', `${settings.command} requires option '${name}'`, `set ${name} in the [stanza] section or pass --${name}`);
  return value;
}
