/**
 * The PostgreSQL procedures the executor runs as background tasks (bootstrap, clone, rewind,
 * re-clone, start, promote, demote). Each is a plain async function of the runtime; the
 * executor decides when one runs and records its result for the next observation.
 */
import { rename } from 'node:fs/promises';
import type { NodeRuntime } from './runtime.js';
import { waitUntilReady, createBootstrapUsers } from '../postgres/procedures.js';
import { renderConninfo } from '../postgres/conf-files.js';
import { PostgresConnection } from '../postgres/probe.js';
import { KeelError } from '../errors.js';
import type { DemoteMode } from './types.js';

/**
 * A task failure that says nothing about the data directory (the source was unreachable, the
 * leader not ready): nothing was changed, and the same task may be tried again later.
 */
export class RetryableTaskError extends KeelError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'RetryableTaskError';
  }
}

function pgTimeoutMs(rt: NodeRuntime): number {
  return rt.local.postgresql.pgCtlTimeoutMs;
}

/** Writes postgresql.conf for the role implied by `rt.recovery` (null = primary). */
export async function writeConfigNow(rt: NodeRuntime): Promise<void> {
  await rt.instance.writeConfig(rt.parameters(), rt.recovery);
}

/** Starts PostgreSQL with the current configuration and waits until it accepts connections. */
export async function startAndWait(rt: NodeRuntime): Promise<void> {
  await writeConfigNow(rt);
  rt.postgresExpectedRunning = true;
  rt.crashedSinceMs = null;
  await rt.instance.start(pgTimeoutMs(rt));
  await waitUntilReady(rt.instance, rt.conn, pgTimeoutMs(rt));
}

export async function stopPostgres(rt: NodeRuntime, mode: 'fast' | 'immediate'): Promise<void> {
  rt.postgresExpectedRunning = false;
  // The REST API must not keep showing the last probe of a server that is going away.
  rt.invalidateProbe();
  await rt.conn.close();
  try {
    await rt.instance.stop(mode, pgTimeoutMs(rt));
  } catch (error) {
    if (mode === 'immediate') {
      await rt.instance.kill();
      return;
    }
    throw error;
  }
}

/** initdb, pg_hba, first start as primary, users — a brand-new cluster (the initialize winner). */
export async function bootstrapNewCluster(rt: NodeRuntime): Promise<void> {
  const local = rt.local;
  await rt.instance.initdb(local.bootstrap.initdbArgs, local.postgresql.authentication.superuser);
  if (local.postgresql.pgHba !== undefined) await rt.instance.replaceHba(local.postgresql.pgHba);
  else await rt.instance.appendHba(local.bootstrap.pgHba);
  rt.recovery = null;
  rt.followTarget = null;
  await startAndWait(rt);
  await createBootstrapUsers(rt.conn, local.postgresql.authentication);
  rt.systemIdentifier = (await rt.instance.controlData()).systemIdentifier;
}

/** After a failed bootstrap: stop what runs and keep the attempt aside for inspection. */
export async function setAsideFailedBootstrap(rt: NodeRuntime): Promise<string | null> {
  if (await rt.instance.isRunning()) await stopPostgres(rt, 'immediate');
  if ((await rt.instance.dataDirState()) === 'missing') return null;
  const aside = `${rt.local.postgresql.dataDir}.failed-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await rename(rt.local.postgresql.dataDir, aside);
  rt.systemIdentifier = null;
  return aside;
}

function replicationSourceOf(rt: NodeRuntime, member: string): { host: string; port: number; username: string; password?: string } {
  const address = rt.memberByName(member);
  if (address === null) throw new KeelError('ha.no_member_address', `member ${member} has no usable conn_url in the DCS`);
  const rep = rt.local.postgresql.authentication.replication;
  return { host: address.host, port: address.port, username: rep.username, ...(rep.password === undefined ? {} : { password: rep.password }) };
}

/** Logs pg_basebackup's "--progress" lines ("1234/5678 kB (21%) ...") at most every 5 s. */
function throttledProgress(rt: NodeRuntime, what: string): (chunk: string) => void {
  let lastLoggedMs = 0;
  return (chunk) => {
    const lines = chunk.split(/[\r\n]+/).filter((l) => /\d+\/\d+ kB/.test(l));
    const last = lines[lines.length - 1];
    const nowMs = performance.now();
    if (last === undefined || nowMs - lastLoggedMs < 5000) return;
    lastLoggedMs = nowMs;
    rt.log.info(`${what} progress: ${last.trim()}`);
  };
}

/** pg_basebackup from `member`, then start as a replica following `follow`. */
export async function cloneAndStart(rt: NodeRuntime, member: string, follow: string | null): Promise<void> {
  const source = replicationSourceOf(rt, member);
  rt.log.info(`cloning from ${member} (${source.host}:${source.port}) with pg_basebackup`);
  await rt.instance.cloneFrom(source, rt.local.postgresql.basebackupArgs, 24 * 3600_000, throttledProgress(rt, 'clone'));
  rt.systemIdentifier = null;
  await startAsReplica(rt, follow);
}

export async function startAsReplica(rt: NodeRuntime, follow: string | null): Promise<void> {
  rt.followTarget = follow;
  rt.recovery = rt.recoveryFor(follow);
  await startAndWait(rt);
}

/** How long the rewind's pre-check may wait for the source to answer. */
const REWIND_SOURCE_CHECK_MS = 5000;

/** The rewind source must be reachable with the rewind credentials and be a primary, or nothing is touched. */
async function checkRewindSource(address: { host: string; port: number }, user: { username: string; password?: string }): Promise<void> {
  const source = new PostgresConnection({ host: address.host, port: address.port, user: user.username, database: 'postgres', ...(user.password === undefined ? {} : { password: user.password }) }, REWIND_SOURCE_CHECK_MS);
  try {
    const [row] = await source.query<{ in_recovery: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS in_recovery');
    if (row?.in_recovery !== false) throw new RetryableTaskError('ha.rewind_source_not_primary', `the rewind source ${address.host}:${address.port} is not a primary (yet)`);
  } catch (error) {
    if (error instanceof RetryableTaskError) throw error;
    throw new RetryableTaskError('ha.rewind_source_unreachable', `cannot reach the rewind source ${address.host}:${address.port} as ${user.username}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await source.close();
  }
}

/**
 * Checks the source, stops PostgreSQL (cleanly), pg_rewinds from `from`, then starts as a replica
 * following `follow`. A failed pg_rewind leaves PostgreSQL stopped: the data directory may be
 * half rewritten, and what to do next (re-clone or stay down) is decide's call.
 */
export async function rewindAndStart(rt: NodeRuntime, from: string, follow: string | null): Promise<void> {
  const address = rt.memberByName(from);
  if (address === null) throw new RetryableTaskError('ha.no_member_address', `member ${from} has no usable conn_url in the DCS`);
  const auth = rt.local.postgresql.authentication;
  const user = auth.rewind ?? auth.superuser;
  await checkRewindSource(address, user);
  if (await rt.instance.isRunning()) await stopPostgres(rt, 'fast');
  const conninfo = renderConninfo({ host: address.host, port: address.port, user: user.username, dbname: 'postgres', connect_timeout: 5 });
  rt.log.info(`running pg_rewind from ${from}`);
  await rt.instance.rewind(conninfo, user.password, 3600_000);
  rt.log.info(`pg_rewind from ${from} finished; starting as a replica`);
  await startAsReplica(rt, follow);
}

/**
 * Re-clone: pg_basebackup into a temporary directory first, and only once that copy is complete
 * stop PostgreSQL and swap the directories — an unreachable source never costs the old data.
 */
export async function recloneAndStart(rt: NodeRuntime, from: string, follow: string | null): Promise<void> {
  const source = replicationSourceOf(rt, from);
  rt.log.warning(`cloning ${rt.local.postgresql.dataDir} again from ${from}; the old data directory is replaced once the copy is complete`);
  await rt.instance.cloneFrom(source, rt.local.postgresql.basebackupArgs, 24 * 3600_000, throttledProgress(rt, 'clone'), async () => {
    if (await rt.instance.isRunning()) await stopPostgres(rt, 'immediate');
  });
  rt.systemIdentifier = null;
  await startAsReplica(rt, follow);
}

/** Polls pg_is_in_recovery() every 10 ms until it is false (promotion done) or the deadline. */
async function waitUntilPromoted(rt: NodeRuntime, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const [row] = await rt.conn.query<{ in_recovery: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS in_recovery');
      if (row?.in_recovery === false) return;
    } catch {
      // the connection may drop while the startup process finishes; try again
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new KeelError('postgres.promote_timeout', `PostgreSQL was still in recovery ${Math.round(timeoutMs / 1000)}s after pg_ctl promote`);
}

/**
 * pg_ctl promote, then a CHECKPOINT on a connection of its own (the probe's must not wait behind
 * it): until that checkpoint the control file still names the old timeline, and a former primary
 * rewinding from us would find "no rewind required" (issue 6; Patroni's checkpoint_after_promote).
 */
export async function promote(rt: NodeRuntime): Promise<void> {
  rt.invalidateProbe(); // from here on the server may acknowledge commits: never "known replica"
  await rt.instance.requestPromote(pgTimeoutMs(rt));
  await waitUntilPromoted(rt, pgTimeoutMs(rt));
  rt.invalidateProbe();
  rt.recovery = null;
  rt.followTarget = null;
  await writeConfigNow(rt);
  await rt.instance.reload();
  const checkpointConn = new PostgresConnection(rt.localConnectTarget(), pgTimeoutMs(rt));
  try {
    await checkpointConn.query('CHECKPOINT');
  } catch (error) {
    rt.log.warning(`CHECKPOINT after promote failed (replicas that must rewind will wait): ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await checkpointConn.close();
  }
}

/**
 * Demote: stop (fast for a graceful switchover, immediate otherwise), release the leader key
 * when we still hold it and the mode says so, then start again as a replica of nobody; the next
 * cycles point it at the new leader (or rewind it first).
 */
export async function demote(rt: NodeRuntime, mode: DemoteMode): Promise<void> {
  if (mode === 'graceful' && (await rt.instance.isRunning())) {
    await rt.conn.query('CHECKPOINT').catch(() => undefined);
  }
  if (await rt.instance.isRunning()) await stopPostgres(rt, mode === 'graceful' ? 'fast' : 'immediate');
  if (mode === 'graceful' || mode === 'immediate') {
    await rt.dcs.deleteLeader().catch((error: unknown) => rt.log.warning(`could not release the leader key: ${error instanceof Error ? error.message : String(error)}`));
  }
  await startAsReplica(rt, null);
}

/** A crashed PostgreSQL restarted in place, in recovery: the leader's next cycle promotes it. */
export async function restartCrashed(rt: NodeRuntime): Promise<void> {
  rt.recovery = rt.recoveryFor(null);
  rt.followTarget = null;
  await startAndWait(rt);
}
