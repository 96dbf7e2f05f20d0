/**
 * The libpq session a backup holds: identity checks and non-exclusive pg_backup_start/stop.
 * The backup stays open only while this connection lives, so a killed backup ends it.
 */
import pg from 'pg';
import { KeelError } from '../errors.js';
import type { PgConnection } from './settings.js';
import type { ClusterId } from './repository.js';

export interface ClusterIdentity extends ClusterId {
  versionNum: number;
  dataChecksums: boolean;
  dataDirectory: string;
  inRecovery: boolean;
  archiveMode: string;
  archiveCommand: string;
}

export class PgSession {
  private constructor(private readonly client: pg.Client) {}

  static async connect(connection: PgConnection): Promise<PgSession> {
    const client = new pg.Client({
      host: connection.socketPath,
      port: connection.port,
      user: connection.user,
      database: connection.database,
      connectionTimeoutMillis: 10_000,
      application_name: 'keel backup',
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      // node-postgres' words for "the server wants a password and none was given"
      const cause = /client password must be a string/.test((error as Error).message)
        ? 'the server asks for a password and none is set'
        : (error as Error).message;
      throw new KeelError(
        'backup.pg_unreachable',
        `cannot connect to PostgreSQL at ${connection.socketPath} port ${connection.port} as ${connection.user}: ${cause}`,
        { hint: 'check pg1-socket-path, pg1-port, pg1-user (and PGPASSWORD or ~/.pgpass)' },
      );
    }
    return new PgSession(client);
  }

  async query<Row extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.client.query<Row>(text, params)).rows;
  }

  async identity(): Promise<ClusterIdentity> {
    const [row] = await this.query<{
      system_identifier: string;
      catalog_version_no: number;
      pg_control_version: number;
      server_version_num: string;
      data_checksums: string;
      data_directory: string;
      in_recovery: boolean;
      archive_mode: string;
      archive_command: string;
    }>(
      `SELECT system_identifier::text, catalog_version_no, pg_control_version, current_setting('server_version_num') AS server_version_num,
              current_setting('data_checksums') AS data_checksums, current_setting('data_directory') AS data_directory,
              pg_is_in_recovery() AS in_recovery, current_setting('archive_mode') AS archive_mode,
              current_setting('archive_command') AS archive_command
         FROM pg_control_system()`,
    );
    if (row === undefined) throw new KeelError('backup.pg_identity', 'pg_control_system() returned nothing');
    const versionNum = Number(row.server_version_num);
    return {
      systemId: row.system_identifier,
      pgVersion: String(Math.floor(versionNum / 10000)),
      catalogVersion: Number(row.catalog_version_no),
      controlVersion: Number(row.pg_control_version),
      versionNum,
      dataChecksums: row.data_checksums === 'on',
      dataDirectory: row.data_directory,
      inRecovery: row.in_recovery,
      archiveMode: row.archive_mode,
      archiveCommand: row.archive_command,
    };
  }

  async backupStart(label: string, fast: boolean): Promise<{ lsn: string; walFile: string }> {
    const [row] = await this.query<{ lsn: string; walfile: string }>('SELECT lsn::text, pg_walfile_name(lsn) AS walfile FROM pg_backup_start($1, $2) AS lsn', [
      label,
      fast,
    ]);
    if (row === undefined) throw new KeelError('backup.start_failed', 'pg_backup_start returned nothing');
    return { lsn: row.lsn, walFile: row.walfile };
  }

  /** Ends the backup without waiting for archiving (keel waits itself, with a deadline). */
  async backupStop(): Promise<{ lsn: string; walFile: string; backupLabel: string; tablespaceMap: string }> {
    const [row] = await this.query<{ lsn: string; walfile: string; labelfile: string; spcmapfile: string }>(
      'SELECT s.lsn::text, pg_walfile_name(s.lsn) AS walfile, s.labelfile, s.spcmapfile FROM pg_backup_stop(false) AS s',
    );
    if (row === undefined) throw new KeelError('backup.stop_failed', 'pg_backup_stop returned nothing');
    return { lsn: row.lsn, walFile: row.walfile, backupLabel: row.labelfile, tablespaceMap: row.spcmapfile ?? '' };
  }

  async switchWal(): Promise<string> {
    const [row] = await this.query<{ walfile: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS walfile');
    return row?.walfile ?? '';
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
