/**
 * Renders a typed reason (Why) as the one-line sentence operators know from Patroni
 * ("no action. I am (node2), a secondary, and following a leader (node1)"). Tools and tests match on
 * `why.kind`; the sentence is for people and may be reworded without breaking anything.
 */
import type { Why } from './types.js';

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}`;
}

export function renderWhy(why: Why): string {
  switch (why.kind) {
    case 'leaderNoAction':
      return `no action. I am (${why.self}), the leader with the lock`;
    case 'promotedHadLock':
      return 'promoted self to leader because I had the session lock';
    case 'leaderUpdateFailedDemoted':
      return 'demoted self because failed to update leader lock in DCS';
    case 'updateFailedNotPromoting':
      return 'not promoting because failed to update leader lock in DCS';
    case 'pausedLeaderUpdateFailed':
      return 'continue to run as primary after failing to update leader lock in DCS';
    case 'removedLockNotPrimary':
      return 'removed leader lock because postgres is not running as primary';
    case 'waitingToBecomePrimary':
      return 'waiting to become primary after promote...';
    case 'watchdogActivationFailed':
      return why.promoting ? 'Not promoting self because watchdog could not be activated' : 'Demoting self because watchdog could not be activated';
    case 'followingNoAction':
      return `no action. I am (${why.self}), a secondary, and following a leader (${why.leader})`;
    case 'demotingNoLock':
      return 'demoting self because I do not have the lock and I was a leader';
    case 'repointing':
      return why.member === null ? `I am (${why.self}), a secondary, stopped following` : `I am (${why.self}), a secondary, and now following (${why.member})`;
    case 'promotedByAcquiring':
      return 'promoted self to leader by acquiring session lock';
    case 'acquiredLockAsLeader':
      return 'acquired session lock as a leader';
    case 'lostRace':
      return why.demoted ? 'demoted self after trying and failing to obtain lock' : 'following new leader after trying and failing to obtain lock';
    case 'notHealthiest':
      return why.demoted
        ? `demoting self because i am not the healthiest node (${why.reason})`
        : `following a different leader because i am not the healthiest node (${why.reason})`;
    case 'nofailoverFollow':
      return why.demoted ? 'demoting self because I am not allowed to become primary' : 'following a different leader because I am not allowed to promote';
    case 'dcsUnreachable':
      return 'DCS is not accessible';
    case 'dcsUnreachableDemoted':
      return 'demoted self because DCS is not accessible and I was a leader';
    case 'failsafeContinue':
      return 'continue to run as a leader because failsafe mode is enabled and all members are accessible';
    case 'bootstrapStarting':
      return 'trying to bootstrap a new cluster';
    case 'initializeLockLost':
      return 'failed to acquire initialize lock';
    case 'waitingForLeaderToBootstrap':
      return 'waiting for leader to bootstrap';
    case 'cloning':
      return `trying to bootstrap from ${why.fromRole} '${why.from}'`;
    case 'initializedNewCluster':
      return 'initialized a new cluster';
    case 'waitingForBootstrapRecovery':
      return 'waiting for end of recovery after bootstrap';
    case 'bootstrapFailed':
      return `removing initialize key after failed attempt to bootstrap the cluster: ${why.message}`;
    case 'systemIdMismatch':
      return `system ID mismatch, this node belongs to a different cluster: ${why.clusterSysid} != ${why.dataSysid}`;
    case 'foreignRunningReplica':
      return 'No initialize key in DCS and PostgreSQL is running as replica, aborting start; start the agent on the primary first';
    case 'releasedKeyEmptyDataDir':
      return 'released leader key voluntarily as data dir empty and currently leader';
    case 'dataDirEmptyPaused':
      return 'running with empty data directory';
    case 'taskInProgress':
      return `${why.task} in progress`;
    case 'leaderKeyKeptDuringTask':
      return `updated leader lock during ${why.task}`;
    case 'lostLockDuringTask':
      return `lost leader lock during ${why.task}`;
    case 'startingAsSecondary':
      return 'starting as a secondary';
    case 'startingAsReadonlyWithLock':
      return 'starting as readonly because i had the session lock';
    case 'crashRestartInPlace':
      return why.msLeft === null
        ? 'restarting PostgreSQL after a crash, keeping the leader lock (no replica could take over)'
        : `restarting PostgreSQL after a crash, keeping the leader lock for ${seconds(why.msLeft)} more seconds`;
    case 'crashFailover':
      return 'released the leader lock to fail over after a crash (PostgreSQL is down)';
    case 'removedKeyFailedStart':
      return 'removed leader key after trying and failing to start postgres';
    case 'rewinding':
      return `running pg_rewind from ${why.from}`;
    case 'reinitializing':
      return why.cause === 'diverged'
        ? `reinitializing due to diverged timelines (from ${why.from})`
        : `reinitializing from ${why.from} after pg_rewind failed`;
    case 'rewindImpossible':
      return why.reason === 'notAllowed'
        ? `diverged from leader (${why.leader}) and neither use_pg_rewind nor removing the data directory is allowed; staying stopped`
        : `diverged from leader (${why.leader}) and pg_rewind cannot work on this data directory (neither data checksums nor wal_log_hints), removing it is not allowed; staying stopped`;
    case 'rewindFailedStayDown':
      return `pg_rewind from ${why.leader} failed (${why.message}) and remove_data_directory_on_rewind_failure is off; staying stopped`;
    case 'waitingForLeaderCheckpoint':
      return `diverged from leader (${why.leader}); waiting for it to checkpoint after its promotion before pg_rewind`;
    case 'divergenceUnknown':
      return `I am (${why.self}), a secondary, and cannot tell whether my WAL diverged from the leader (${why.leader}): ${why.cause}`;
    case 'notStreaming':
      return `I am (${why.self}), a secondary, configured to follow (${why.leader}) but not streaming for ${seconds(why.forMs)} s${why.error === null ? '' : `: ${why.error}`}`;
    case 'memberAddressUnknown':
      return `cannot ${why.purpose === 'follow' ? 'follow' : why.purpose} ${why.purpose === 'follow' ? '' : 'from '}${why.member}: it publishes no conn_url yet`;
    case 'failsafeFollowing':
      return `no action. I am (${why.self}), a secondary, and following a leader (${why.leader}) that runs in failsafe mode`;
    case 'postgresStartingUp':
      return why.msLeft === null ? 'PostgreSQL is still starting up' : `PostgreSQL is still starting up, ${seconds(why.msLeft)} seconds until timeout`;
    case 'switchoverSteppingDown':
      return `manual failover: demoting myself (${why.self})${why.candidate === null ? '' : ` in favour of ${why.candidate}`}`;
    case 'switchoverHandingOver':
      return `manual failover: PostgreSQL stopped cleanly; released the leader lock${why.candidate === null ? '' : ` for ${why.candidate}`} and starting as a replica`;
    case 'switchoverScheduled':
      return `Awaiting failover at ${why.at} (in ${seconds(why.inMs)} seconds)`;
    case 'switchoverCheckingMembers':
      return 'manual failover: checking the other members before stepping down';
    case 'switchoverCleared':
      return `manual failover: ${why.reason}; cleaning up failover key`;
    case 'manualFailoverCandidate':
      return `manual failover: I am (${why.self}) the candidate`;
    case 'syncKeyChangedPostponing':
      return 'Postponing promotion because synchronous replication state was updated by somebody else';
    case 'notSyncStandbyReleasing':
      return `released leader lock: I am (${why.self}) not a synchronous standby any more, so I may miss acknowledged commits`;
    case 'pausedNoAction':
      return `no action. I am (${why.self})`;
    case 'pausedPrimaryWithoutLock':
      return 'continue to run as primary without lock';
    case 'pausedPostgresNotRunning':
      return 'postgres is not running';
    case 'pausedRemovedLockNotRunning':
      return 'removed leader lock because postgres is not running';
  }
}
