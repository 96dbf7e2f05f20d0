/**
 * stanza-create and check: the repository is tied to one cluster (system identifier and major
 * version, read over libpq), and check proves archiving works end to end by switching WAL and
 * waiting for the segment to arrive in the repository.
 */
import { KeelError } from '../errors.js';
import { Repository, type RepositoryOptions } from './repository.js';
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
