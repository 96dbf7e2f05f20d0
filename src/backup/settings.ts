/**
 * What the backup commands need from the resolved pgBackRest-style options, typed once here.
 */
import { ConfigError } from '../errors.js';
import type { BackupSettings } from '../config/pgbackrest.js';
import type { RepositoryOptions } from './repository.js';
import type { CipherType, CompressType } from './object-codec.js';
import type { LogLevel } from './log.js';

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

export function pgPath(settings: BackupSettings): string {
  const path = settings.options['pg1-path'];
  if (typeof path !== 'string')
    throw new ConfigError('', `${settings.command} requires option 'pg1-path'`, 'set pg1-path in the [stanza] section or pass --pg1-path');
  return path;
}

export function logLevel(settings: BackupSettings): LogLevel {
  return settings.options['log-level-console'] as LogLevel;
}
