/**
 * Backup from a standby (`--backup-standby`), pgBackRest's way: pg_backup_start and
 * pg_backup_stop run on the primary (a standby cannot write the backup's WAL records); the
 * standby must first replay up to the backup's start and make a restartpoint there (CHECKPOINT
 * until its pg_control checkpoint reaches the start LSN), so its data files are no older than the
 * start; then the relation files (base/, global/ but pg_control, pg_xact, pg_multixact and the
 * tablespaces) are read from the standby, everything else, pg_control included, from the
 * primary. WAL replay from the start fixes any page the copy caught mid-write, as on a primary.
 */
import { KeelError } from '../errors.js';
import { parseLsn } from './core/wal.js';
import type { PgSession, ClusterIdentity } from './pg-session.js';
import type { PgConnection } from './settings.js';

/** One configured PostgreSQL (pgN-* options); all local to this host. */
export interface PgHost {
  /** N of pgN. */
  index: number;
  connection: PgConnection;
  pgPath: string;
}

export interface ConnectedHost {
  host: PgHost;
  session: PgSession;
  identity: ClusterIdentity;
}

/**
 * The primary to back up (pg_backup_start/stop) and, with backup-standby, the standby to read
 * from. pgBackRest finds the primary among pg1..pgN by pg_is_in_recovery(), in any order.
 */
export function chooseHosts(hosts: readonly ConnectedHost[], backupStandby: boolean): { primary: ConnectedHost; standby: ConnectedHost | null } {
  const primaries = hosts.filter((h) => !h.identity.inRecovery);
  const primary = primaries[0];
  if (primary === undefined) {
    throw new KeelError('backup.no_primary', `unable to find a primary among ${hosts.map((h) => `pg${h.host.index}`).join(', ')}: all are standbys`, {
      hint: 'configure the primary as pg1-path/pg1-port (and the standby as pg2-*)',
    });
  }
  if (primaries.length > 1) {
    throw new KeelError(
      'backup.two_primaries',
      `more than one primary found (${primaries.map((h) => `pg${h.host.index}`).join(', ')}); keel backs up one cluster`,
    );
  }
  if (!backupStandby) return { primary, standby: null };
  const standby = hosts.find((h) => h.identity.inRecovery);
  if (standby === undefined) {
    throw new KeelError('backup.no_standby', 'unable to find a standby to back up from: backup-standby is set but no configured pgN is in recovery', {
      hint: 'set pg2-path and pg2-port (pg2-socket-path, pg2-user) to a streaming replica of the primary, or drop --backup-standby',
    });
  }
  if (standby.identity.systemId !== primary.identity.systemId) {
    throw new KeelError(
      'backup.standby_mismatch',
      `the standby at pg${standby.host.index} (system-id ${standby.identity.systemId}) is not a replica of the primary at pg${primary.host.index} (system-id ${primary.identity.systemId})`,
    );
  }
  return { primary, standby };
}

/** True for the files pgBackRest copies from the standby: relation data and transaction status, not pg_control. */
export function readFromStandby(path: string): boolean {
  if (path === 'global/pg_control') return false;
  return ['base/', 'global/', 'pg_xact/', 'pg_multixact/', 'pg_tblspc/'].some((prefix) => path.startsWith(prefix));
}

/**
 * Waits until the standby has replayed to `startLsn` and made a restartpoint at or after it
 * (pgBackRest: "timeout before standby replayed to ..." / checkpoint). Bounded by `timeoutMs`.
 */
export async function waitForStandbyAt(standby: ConnectedHost, startLsn: string, timeoutMs: number): Promise<void> {
  const target = parseLsn(startLsn);
  const deadline = Date.now() + timeoutMs;
  let replayed = '0/0';
  for (;;) {
    const [replay] = await standby.session.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
    replayed = replay?.lsn ?? '0/0';
    if (parseLsn(replayed) >= target) break;
    if (Date.now() > deadline) {
      throw new KeelError(
        'backup.standby_behind',
        `timeout before standby pg${standby.host.index} replayed to ${startLsn} (it is at ${replayed} after ${Math.round(timeoutMs / 1000)}s, archive-timeout)`,
        { hint: 'check that the standby streams from the primary (pg_stat_wal_receiver)' },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (;;) {
    await standby.session.query('CHECKPOINT');
    const [checkpoint] = await standby.session.query<{ lsn: string }>('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()');
    if (parseLsn(checkpoint?.lsn ?? '0/0') >= target) return;
    if (Date.now() > deadline) {
      throw new KeelError(
        'backup.standby_checkpoint',
        `timeout before standby pg${standby.host.index} made a restartpoint at or after ${startLsn} (its checkpoint is at ${checkpoint?.lsn ?? '?'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
