/**
 * The node YAML's `backup:` section: what a keel agent needs to archive WAL and to let its
 * replicas and restored copies fetch it back, without anyone editing postgresql.conf.
 *
 *   backup:
 *     stanza: prod-db                    # required
 *     config: /etc/pgbackrest.conf       # optional pgBackRest file carried over (default: that path when it exists)
 *     generated_config: /var/lib/postgresql/pgbackrest.n1.conf   # where the agent writes the node's file
 *     repo1-path: /var/lib/pgbackrest    # any pgBackRest option, same name and value as in pgbackrest.conf
 *     archive-async: y
 *
 * The agent writes one pgBackRest-format file per node (`generated_config`, 0600, owned by the
 * PostgreSQL OS user since archive_command runs as that user): the sections of `config`, the
 * options pointing at this node's PostgreSQL (pg1-path, pg1-port, pg1-socket-path, pg1-user, which
 * keel knows better than a file written for another host), then the options written inline here,
 * which win everywhere. archive_command and restore_command name that file, so the repository's
 * passphrase never sits in postgresql.conf or on a command line, and an operator runs
 * `keel pgbackrest --config=<generated_config> --stanza=<stanza> backup` with the same settings.
 *
 * Every option is checked with the pgBackRest option table (src/config/pgbackrest.ts): an unknown
 * or invalid one is a one-line ConfigError naming `backup.<option>` (or the file and section).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseIni } from 'ini';
import { ConfigError } from '../errors.js';
import { OPTIONS, convertOption, optionsFromIni } from './pgbackrest.js';
import { describe, isRecord } from './values.js';

/** pgBackRest's default file; read only when present, as pgBackRest does. */
export const DEFAULT_PGBACKREST_CONF = '/etc/pgbackrest.conf';

export interface BackupNodeConfig {
  stanza: string;
  /** The pgBackRest file carried over (null: none). */
  sourceFile: string | null;
  /** The file the agent writes and archive_command / restore_command name. */
  configFile: string;
  /** Sections of the file to write: section name -> pgBackRest option -> value as written in an INI file. */
  sections: Record<string, Record<string, string>>;
}

/** What the agent knows about its PostgreSQL, for the pg1-* options. */
export interface BackupNodeFacts {
  name: string;
  dataDir: string;
  port: number;
  socketDir: string;
  superuser: string;
}

const SECTION_KEYS = new Set(['stanza', 'config', 'generated_config']);

function text(value: unknown, path: string): string {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new ConfigError(path, `expected a value, got ${describe(value)}`);
}

/** An option's value as pgBackRest's INI file spells it (booleans y/n). */
function iniValue(name: string, raw: unknown, path: string): string {
  if (raw === null || raw === undefined || isRecord(raw) || Array.isArray(raw)) throw new ConfigError(path, `expected a single value, got ${describe(raw)}`);
  if (typeof raw === 'string' && /[\r\n]/.test(raw)) throw new ConfigError(path, 'expected a single line');
  let converted;
  try {
    converted = convertOption(name, typeof raw === 'boolean' ? raw : String(raw), path);
  } catch (error) {
    // convertOption names its source at the front of the message; here the source is the key path
    if (error instanceof ConfigError) throw new ConfigError(path, error.message.slice(`${path}: `.length));
    throw error;
  }
  return typeof converted === 'boolean' ? (converted ? 'y' : 'n') : String(converted);
}

/**
 * Validates the raw `backup:` mapping and builds the node's pgBackRest file. `readFile` returns
 * null when a file is absent (injected for tests).
 */
export function parseBackupSection(
  raw: unknown,
  facts: BackupNodeFacts,
  readFile: (path: string) => string | null = readTextIfExists,
): BackupNodeConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) throw new ConfigError('backup', `expected a mapping (stanza, config, pgBackRest options), got ${describe(raw)}`);
  if (raw['stanza'] === undefined || raw['stanza'] === null)
    throw new ConfigError('backup.stanza', 'is required (the pgBackRest stanza this cluster archives to)');
  const stanza = text(raw['stanza'], 'backup.stanza');
  if (!/^[A-Za-z0-9_.-]+$/.test(stanza)) throw new ConfigError('backup.stanza', `invalid stanza name '${stanza}' (letters, digits, - _ . only)`);
  const configFile =
    raw['generated_config'] === undefined
      ? join(dirname(facts.dataDir), `pgbackrest.${facts.name}.conf`)
      : text(raw['generated_config'], 'backup.generated_config');

  const inline: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (SECTION_KEYS.has(name)) continue;
    const path = `backup.${name}`;
    const spec = (OPTIONS as Record<string, { commandLineOnly?: boolean }>)[name];
    if (spec === undefined)
      throw new ConfigError(path, 'unknown pgBackRest option (check the spelling; options are written as in pgbackrest.conf, e.g. repo1-path)');
    if (spec.commandLineOnly === true) throw new ConfigError(path, 'this option is given per command, not in a configuration');
    inline[name] = iniValue(name, value, path);
  }

  let sourceFile: string | null = null;
  let sourceText: string | null = null;
  if (raw['config'] !== undefined && raw['config'] !== null) {
    sourceFile = text(raw['config'], 'backup.config');
    sourceText = readFile(sourceFile);
    if (sourceText === null) throw new ConfigError('backup.config', `${sourceFile} does not exist`);
  } else {
    sourceText = readFile(DEFAULT_PGBACKREST_CONF);
    if (sourceText !== null) sourceFile = DEFAULT_PGBACKREST_CONF;
  }
  const sections: Record<string, Record<string, string>> = {};
  if (sourceText !== null && sourceFile !== null) {
    optionsFromIni(sourceText, sourceFile, stanza, 'archive-push'); // validates every section: unknown options name the file and section
    for (const [section, body] of Object.entries(parseIni(sourceText) as Record<string, Record<string, unknown>>)) {
      sections[section] = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)]));
    }
  }
  const own: Record<string, string> = {
    'pg1-path': facts.dataDir,
    'pg1-port': String(facts.port),
    'pg1-socket-path': facts.socketDir,
    'pg1-user': facts.superuser,
    ...inline,
  };
  // what this node says wins over every section of the carried-over file
  for (const body of Object.values(sections)) for (const name of Object.keys(own)) delete body[name];
  sections[stanza] = { ...sections[stanza], ...own };
  return { stanza, sourceFile, configFile, sections };
}

/** The node's pgBackRest file (pure): [global] first, then the other sections in order. */
export function renderBackupConfig(config: BackupNodeConfig): string {
  const lines = ['# written by the keel agent from its backup: section; edit that instead'];
  const names = Object.keys(config.sections).sort((a, b) => (a === 'global' ? -1 : b === 'global' ? 1 : 0));
  for (const section of names) {
    const body = config.sections[section] ?? {};
    if (Object.keys(body).length === 0) continue;
    lines.push('', `[${section}]`);
    for (const [name, value] of Object.entries(body)) lines.push(`${name}=${value}`);
  }
  return lines.join('\n') + '\n';
}

/** The file's text, null when absent; an unreadable file is an error (archiving would fail later, less clearly). */
function readTextIfExists(path: string): string | null {
  if (!existsSync(path)) return null;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('backup.config', `cannot read ${path}: ${(error as Error).message}`);
  }
}
