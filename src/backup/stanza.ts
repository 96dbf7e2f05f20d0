/**
 * stanza-create, stanza-upgrade and check: the repository is tied to one cluster at a time
 * (system identifier, catalog and major version, read over libpq); stanza-upgrade records a new
 * one after pg_upgrade, keeping the history so old backups restore onto their own version; check
 * proves archiving works end to end by switching WAL and waiting for the segment to arrive.
 */
import { KeelError } from '../errors.js';
import { Repository, archiveIdOf, type RepositoryOptions, type StanzaDb } from './repository.js';
import { PgSession } from './pg-session.js';
import { waitForArchived } from './archive.js';
import type { PgConnection } from './settings.js';
import type { BackupLog } from './log.js';

export async function stanzaCreate(options: RepositoryOptions, connection: PgConnection, log: BackupLog): Promise<void> {
  const session = await PgSession.connect(connection);
  try {
    const identity = await session.identity();
    const { created } = await Repository.create(options, identity);
    log.info(
      created
        ? `stanza-create for stanza '${options.stanza}' on repo1: created (system id ${identity.systemId}, PostgreSQL ${identity.pgVersion})`
        : `stanza '${options.stanza}' already exists on repo1 and is valid`,
    );
  } finally {
    await session.close();
  }
}

/**
 * stanza-upgrade: after a PostgreSQL major upgrade the cluster has a new system identifier (and
 * catalog, version); the stanza records it as its new current database (pgBackRest's db history,
 * db-id + 1, a new archive id). Nothing else changes: old backups and WAL keep their database.
 */
export async function stanzaUpgrade(options: RepositoryOptions, connection: PgConnection, log: BackupLog): Promise<void> {
  const repository = await Repository.open(options);
  const session = await PgSession.connect(connection);
  try {
    const identity = await session.identity();
    if (identity.inRecovery) throw new KeelError('backup.standby', 'stanza-upgrade must read the primary; the PostgreSQL at pg1 is a standby');
    const unlock = await repository.lock('stanza-upgrade');
    try {
      const previous = repository.currentDb;
      const added = await repository.upgrade(identity);
      log.info(
        added === null
          ? `stanza '${options.stanza}' on repo1 is already up to date`
          : `stanza-upgrade for stanza '${options.stanza}' on repo1: db-id ${added.id} (PostgreSQL ${added.pgVersion}, system id ${added.systemId}, archive id ${archiveIdOf(added)}) after db-id ${previous.id} (PostgreSQL ${previous.pgVersion}, system id ${previous.systemId})`,
      );
    } finally {
      await unlock();
    }
  } finally {
    await session.close();
  }
}

export async function checkArchiving(options: RepositoryOptions, connection: PgConnection, archiveTimeoutMs: number, log: BackupLog): Promise<string> {
  const repository = await Repository.open(options);
  const session = await PgSession.connect(connection);
  try {
    const identity = await session.identity();
    repository.checkCluster(identity);
    log.info(`check repo1 configuration (${identity.inRecovery ? 'standby' : 'primary'})`);
    if (identity.inRecovery) return '';
    if (identity.archiveMode === 'off')
      throw new KeelError('backup.archive_off', "archive_mode is off; set archive_mode = on and archive_command = 'keel backup archive-push %p --stanza=...'");
    const segment = await session.switchWal();
    await waitForArchived(repository, segment, archiveTimeoutMs, identity.archiveCommand);
    log.info(`WAL segment ${segment} successfully archived to '${repository.root}/archive' on repo1`);
    return segment;
  } finally {
    await session.close();
  }
}
