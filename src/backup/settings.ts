/**
 * What the backup commands need from the resolved pgBackRest-style options, typed once here.
 */
import { ConfigError } from '../errors.js';
import type { BackupSettings } from '../config/pgbackrest.js';
import type { RepositoryOptions } from './repository.js';
import type { CipherType, CompressType } from './object-codec.js';
import type { LogLevel } from './log.js';
import type { PgHost } from './standby.js';
import type { TablespaceMapping } from './restore-plan.js';

export interface PgConnection {
  socketPath: string;
  port: number;
  user: string;
  database: string;
}

export function stanzaOf(settings: BackupSettings): string {
  const stanza = settings.options.stanza;
  if (typeof stanza !== 'string') throw new ConfigError('', `${settings.command} requires option 'stanza'`, 'pass --stanza=<name>');
  if (!/^[A-Za-z0-9_.-]+$/.test(stanza)) throw new ConfigError('', `invalid value '${stanza}' for option 'stanza' (letters, digits, - _ . only)`);
  return stanza;
}

export function repositoryOptions(settings: BackupSettings): RepositoryOptions {
  const o = settings.options;
  const pass = o['repo1-cipher-pass'];
  return {
    repoPath: String(o['repo1-path']),
    stanza: stanzaOf(settings),
    cipherType: o['repo1-cipher-type'] as CipherType,
    cipherPass: typeof pass === 'string' ? pass : null,
    compressType: o['compress-type'] as CompressType,
    compressLevel: typeof o['compress-level'] === 'number' ? o['compress-level'] : null,
  };
}

export function pgConnection(settings: BackupSettings): PgConnection {
  const o = settings.options;
  return { socketPath: String(o['pg1-socket-path']), port: Number(o['pg1-port']), user: String(o['pg1-user']), database: String(o['pg1-database']) };
}

/** pg1 and, when pg2-path is set, pg2 (pgBackRest's indexed host options; local hosts only). */
export function pgHosts(settings: BackupSettings): PgHost[] {
  const o = settings.options;
  const hosts: PgHost[] = [{ index: 1, connection: pgConnection(settings), pgPath: pgPath(settings) }];
  if (typeof o['pg2-path'] === 'string') {
    hosts.push({
      index: 2,
      connection: { socketPath: String(o['pg2-socket-path']), port: Number(o['pg2-port']), user: String(o['pg2-user']), database: String(o['pg2-database']) },
      pgPath: o['pg2-path'],
    });
  }
  return hosts;
}

/** --tablespace-map name=path (repeatable) and --tablespace-map-all. */
export function tablespaceMapping(settings: BackupSettings): TablespaceMapping {
  const o = settings.options;
  const pairs = Array.isArray(o['tablespace-map']) ? (o['tablespace-map'] as readonly string[]) : [];
  const map = new Map<string, string>();
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    map.set(pair.slice(0, at), pair.slice(at + 1));
  }
  const all = o['tablespace-map-all'];
  return { map, mapAll: typeof all === 'string' ? all : null };
}

export function pgPath(settings: BackupSettings): string {
  const path = settings.options['pg1-path'];
  if (typeof path !== 'string')
    throw new ConfigError('', `${settings.command} requires option 'pg1-path'`, 'set pg1-path in the [stanza] section or pass --pg1-path');
  return path;
}

export function logLevel(settings: BackupSettings): LogLevel {
  return settings.options['log-level-console'] as LogLevel;
}
