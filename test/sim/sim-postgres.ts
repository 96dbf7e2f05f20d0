/**
 * PostgreSQL, simulated: the PostgresNode port of one agent process over its node's physical
 * PostgreSQL (model.ts SimPg), and the RemotePostgres port over the other nodes'. The shell drives
 * them exactly as it drives real servers: it writes postgresql.conf and the recovery settings,
 * starts, stops, reloads and promotes, probes over SQL, clones and rewinds. What PostgreSQL does
 * with that is modelled here: a server starts in recovery when recovery settings were written,
 * follows the host in primary_conninfo, applies synchronous_standby_names on start and reload
 * (the fence), promotes to a new timeline whose checkpoint comes later, and pg_rewind behaves as
 * in PostgreSQL 15 — including "no rewind required" when the source has not checkpointed since
 * its promotion.
 *
 * Local operations (files, pg_controldata, SQL) complete at once; programs that take time
 * (start, stop, initdb, pg_basebackup, pg_rewind, promote) complete after a random delay, and
 * what an agent awaits is delivered to its process (dropped if it died, deferred while frozen).
 */
import type { Credentials, SlotMatcher } from '../../src/config/types.js';
import { formatLsn } from '../../src/ha/core/lsn.js';
import type { ReplicationSample } from '../../src/ha/core/sync-stall.js';
import type { RecoverySettings } from '../../src/postgres/conf-files.js';
import type { ControlData } from '../../src/postgres/controldata.js';
import type {
  BootstrapUsers,
  DataDirState,
  LeaderHistory,
  PgpassEntry,
  PostgresEndpoint,
  PostgresNode,
  RemotePostgres,
  ReplicationSource,
  StopMode,
  TimelineOrigin,
} from '../../src/postgres/ports.js';
import type { ConnectTarget, PostgresProbe, WalPositions } from '../../src/postgres/probe.js';
import type { SimNode, SimPg, SimProcess } from './model.js';
import { CLUSTER_REPLICATION_PASSWORD, type World } from './world.js';
import { FENCE_STANDBY_NAME } from '../../src/ha/postgres-tracker.js';
import { ackRuleOf } from '../../src/ha/core/sync-standby-names.js';
import { slotNameFromMemberName } from '../../src/ha/core/slot-names.js';

class SimPgError extends Error {}

function hostOfConninfo(conninfo: string): string | null {
  return /(?:^|\s)host=(\S+)/.exec(conninfo)?.[1] ?? null;
}

/** The switch points of a lineage, as the history file of its last timeline lists them. */
function historyOf(pg: SimPg): Array<{ timeline: number; switchLsn: number }> {
  return pg.lineage.slice(1).map((seg, i) => ({ timeline: pg.lineage[i]?.tl ?? 0, switchLsn: seg.fromLsn }));
}

export function controlDataOf(w: World, pg: SimPg): ControlData {
  const tl = w.tl(pg);
  const state =
    pg.state !== 'down'
      ? pg.inRecovery
        ? 'in archive recovery'
        : 'in production'
      : pg.shutdownClean
        ? pg.inRecovery
          ? 'shut down in recovery'
          : 'shut down'
        : pg.inRecovery
          ? 'in archive recovery'
          : 'in production';
  return {
    systemIdentifier: pg.sysid ?? '',
    clusterState: state,
    timeline: pg.state === 'down' ? Math.max(pg.checkpointTl, tl) : tl,
    checkpointLsn: pg.lsn,
    minRecoveryEndLsn: 0,
    dataChecksums: pg.checksums,
    walLogHints: pg.walLogHints,
    raw: {},
  };
}

export class SimPostgresNode implements PostgresNode {
  private readonly n: SimNode;

  constructor(
    private readonly w: World,
    private readonly proc: SimProcess,
  ) {
    this.n = proc.node;
  }

  private get pg(): SimPg {
    return this.n.pg;
  }

  /** Resolves (in the agent's process) after a random delay, running `effect` at that instant. */
  private after<T>(range: [number, number], effect: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.w.deliver(this.proc, this.w.rng.int(range[0], range[1]), () => {
        try {
          resolve(effect());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
  }

  async dataDirState(): Promise<DataDirState> {
    return this.pg.dataDir;
  }
  async controlData(): Promise<ControlData> {
    if (this.pg.dataDir !== 'initialized') throw new SimPgError('pg_controldata failed: no data directory');
    return controlDataOf(this.w, this.pg);
  }
  async hasStandbySignal(): Promise<boolean> {
    return this.pg.conf !== null && this.pg.conf.recovery !== null;
  }
  async managedConfigText(): Promise<string> {
    const params = this.pg.conf?.params ?? {};
    return Object.entries(params)
      .map(([k, v]) => `${k} = '${v}'`)
      .join('\n');
  }
  async timelineHistoryText(timeline: number): Promise<string | null> {
    const pg = this.pg;
    if (pg.dataDir !== 'initialized' || timeline > this.w.tl(pg) || timeline <= 1) return null;
    const lines = historyOf(pg).filter((h) => h.timeline < timeline);
    return lines.map((h) => `${h.timeline}\t${formatLsn(h.switchLsn)}\tno recovery target specified`).join('\n') + '\n';
  }
  async serverLogSince(offset: number | null): Promise<{ text: string; end: number }> {
    return { text: '', end: offset ?? 0 };
  }
  async serverLogText(): Promise<string> {
    const error = this.pg.receiverError;
    return error === null ? '' : `FATAL:  could not connect to the primary server: ${error}\n`;
  }

  async readTimelineOrigin(): Promise<TimelineOrigin | null> {
    return this.pg.dataDir === 'initialized' ? this.pg.timelineOrigin : null;
  }
  async writeTimelineOrigin(origin: TimelineOrigin): Promise<void> {
    this.pg.timelineOrigin = { ...origin };
  }

  async postmasterPid(): Promise<number | null> {
    return this.pg.state === 'down' ? null : 4242;
  }

  /** pg_ctl start -W: returns once the postmaster is launched; it accepts connections after a while. */
  async start(): Promise<void> {
    const pg = this.pg;
    if (pg.state !== 'down') return;
    if (pg.dataDir !== 'initialized' || pg.conf === null) throw new SimPgError('pg_ctl start failed: no data directory');
    pg.state = 'starting';
    pg.epoch++;
    pg.starts++;
    pg.startsAtMs.push(this.w.nowMs);
    pg.inRecovery = pg.conf.recovery !== null;
    pg.walLogHints = pg.conf.params['wal_log_hints'] === 'on' && !pg.autoConfWalLogHintsOff;
    pg.applied = {
      ssn: pg.conf.params['synchronous_standby_names'] ?? '',
      followHost: pg.conf.recovery === null ? null : hostOfConninfo(pg.conf.recovery.primaryConninfo),
    };
    const epoch = pg.epoch;
    this.w.trace(`${this.n.name}: PostgreSQL starting ${pg.inRecovery ? `in recovery following ${pg.applied.followHost ?? 'nobody'}` : 'as a primary'}`);
    this.w.at(this.w.rng.int(100, 800), () => {
      if (pg.epoch !== epoch || pg.state !== 'starting') return;
      pg.state = 'up';
      pg.upSinceMs = this.w.nowMs;
      this.w.trace(`${this.n.name}: PostgreSQL accepts connections`);
    });
  }

  async stop(mode: StopMode): Promise<boolean> {
    const pg = this.pg;
    if (pg.state === 'down') return false;
    return this.after(mode === 'immediate' ? [5, 50] : [50, 400], () => {
      this.w.downPg(this.n, mode !== 'immediate', `stopped (${mode})`);
      return true;
    });
  }

  async kill(): Promise<void> {
    this.w.downPg(this.n, false, 'killed (SIGKILL)');
  }

  /** SIGHUP: the running server re-reads synchronous_standby_names and primary_conninfo. */
  async reload(): Promise<boolean> {
    const pg = this.pg;
    if (pg.state === 'down' || pg.conf === null) return false;
    const conf = pg.conf;
    this.w.at(this.w.rng.int(1, 20), () => {
      if (pg.state === 'down') return;
      const ssn = conf.params['synchronous_standby_names'] ?? '';
      if (ssn === FENCE_STANDBY_NAME && pg.applied.ssn !== FENCE_STANDBY_NAME) this.w.checkFence(this.n);
      pg.applied = { ssn, followHost: pg.inRecovery && conf.recovery !== null ? hostOfConninfo(conf.recovery.primaryConninfo) : null };
      // Waiting commits are judged again under the new setting (PostgreSQL wakes them on reload).
      this.w.releaseCommits();
    });
    return true;
  }

  /** pg_ctl promote -W: returns at once; the server leaves recovery after a while. */
  async requestPromote(): Promise<void> {
    const pg = this.pg;
    if (pg.state !== 'up' || !pg.inRecovery) throw new SimPgError('pg_ctl promote failed: server is not in standby mode');
    pg.promoteRequestedAtMs = this.w.nowMs;
    this.w.checkPromotion(this.n);
    const epoch = pg.epoch;
    this.w.at(this.w.rng.int(20, 400), () => {
      if (pg.epoch !== epoch || pg.state !== 'up' || !pg.inRecovery) return;
      this.w.promotePg(this.n);
    });
  }

  writeConfig(parameters: Record<string, string>, recovery: RecoverySettings | null): Promise<void> {
    const n = this.n;
    return this.after(n.configWriteDelayMs, () => {
      if (n.configWriteFails) throw new SimPgError('could not write postgresql.conf: Input/output error');
      n.pg.conf = { params: { ...parameters }, recovery: recovery === null ? null : { ...recovery } };
    });
  }

  async writeBackupConfig(_path: string, _text: string): Promise<void> {}

  async writePgpass(_path: string, entries: PgpassEntry[]): Promise<void> {
    const replication = entries.find((e) => e.user.username === 'replicator');
    this.pg.pgpassReplicationPassword = replication?.user.password ?? null;
  }

  initdb(args: string[], _superuser: Credentials): Promise<void> {
    const pg = this.pg;
    if (pg.dataDir === 'initialized') throw new SimPgError('initdb: data directory is not empty');
    return this.after([300, 1500], () => {
      pg.dataDir = 'initialized';
      pg.sysid = `73${String(this.w.params.seed).padStart(17, '0')}`;
      pg.lineage = this.w.newLineage();
      pg.lsn = 16 << 20;
      pg.checkpointTl = 1;
      pg.checksums = args.includes('--data-checksums');
      pg.shutdownClean = true;
      pg.inRecovery = false;
    });
  }

  async appendHba(): Promise<void> {}
  async replaceHba(): Promise<void> {}

  cloneFrom(
    source: ReplicationSource,
    _extraArgs: string[],
    _timeoutMs: number,
    _onProgress?: (line: string) => void,
    beforeReplace?: () => Promise<void>,
  ): Promise<void> {
    const pg = this.pg;
    if (pg.dataDir === 'initialized' && beforeReplace === undefined) throw new SimPgError('data directory is not empty; refusing to clone into it');
    return this.after([500, 3000], () => {
      const src = this.w.nodes.find((x) => x.name === source.host);
      if (src === undefined || src.pg.state !== 'up' || !this.w.linked(this.n.name, src.name))
        throw new SimPgError(`pg_basebackup failed: could not connect to ${source.host}`);
      if (source.password !== CLUSTER_REPLICATION_PASSWORD) throw new SimPgError('pg_basebackup failed: password authentication failed for user "replicator"');
      return {
        sysid: src.pg.sysid,
        lineage: src.pg.lineage.map((s) => ({ ...s })),
        lsn: src.pg.lsn,
        checksums: src.pg.checksums,
        checkpointTl: this.w.tl(src.pg),
        timelineOrigin: src.pg.timelineOrigin,
      };
    }).then(async (copy) => {
      if (beforeReplace !== undefined) await beforeReplace();
      if (pg.state !== 'down') throw new SimPgError('refusing to replace the data directory: PostgreSQL is running on it');
      Object.assign(pg, copy, { dataDir: 'initialized' as const, shutdownClean: true, inRecovery: true });
    });
  }

  /** pg_rewind as PostgreSQL 15 does it, against the source's CONTROL FILE timeline. */
  rewind(sourceConninfo: string): Promise<void> {
    const pg = this.pg;
    return this.after([300, 2000], () => {
      if (pg.state !== 'down') throw new SimPgError('pg_rewind: target server must be shut down cleanly');
      const src = this.w.nodes.find((x) => x.name === hostOfConninfo(sourceConninfo));
      if (src === undefined || src.pg.state !== 'up' || !this.w.linked(this.n.name, src.name))
        throw new SimPgError('pg_rewind: could not connect to the source server');
      if (this.w.params.rewindGrantsMissing) throw new SimPgError('pg_rewind: permission denied for function pg_read_binary_file');
      if (!pg.checksums && !pg.walLogHints) throw new SimPgError('pg_rewind: target server needs to use either data checksums or "wal_log_hints = on"');
      const targetTl = controlDataOf(this.w, pg).timeline;
      if (src.pg.checkpointTl === targetTl) return; // "source and target cluster are on the same timeline; no rewind required"
      pg.timelineOrigin = src.pg.timelineOrigin; // non-relation files come from the source
      let common = 0;
      while (common < pg.lineage.length && src.pg.lineage[common]?.uid === pg.lineage[common]?.uid) common++;
      if (common === 0) throw new SimPgError('pg_rewind: source and target clusters are from different systems');
      pg.lineage = src.pg.lineage.map((s) => ({ ...s }));
      pg.lsn = Math.min(pg.lsn, src.pg.lineage[common]?.fromLsn ?? src.pg.lsn, src.pg.lsn);
      pg.checkpointTl = this.w.tl(pg);
      pg.shutdownClean = true;
      pg.inRecovery = true;
    });
  }

  async setAside(): Promise<string | null> {
    if (this.pg.dataDir === 'missing') return null;
    this.pg.dataDir = 'missing';
    return `${this.n.name}-data.failed`;
  }

  connectTo(_target: ConnectTarget): void {}

  /** Never asked: a simulated receiver is never silent (probe). A real one would reconnect at once. */
  async restartWalReceiver(_pid: number): Promise<void> {
    this.up();
  }

  private up(): SimPg {
    const pg = this.pg;
    if (pg.state !== 'up') throw new SimPgError('connection refused');
    return pg;
  }

  async probe(): Promise<PostgresProbe> {
    const pg = this.up();
    const streaming = this.w.streaming(this.n);
    const tl = this.w.tl(pg);
    return {
      inRecovery: pg.inRecovery,
      serverVersion: 150018,
      postmasterStartTime: '2026-12-01 00:00:00.000000 +00:00',
      timeline: tl,
      currentLsn: pg.inRecovery ? null : pg.lsn,
      receiveLsn: pg.inRecovery ? pg.lsn : null,
      replayLsn: pg.inRecovery ? pg.lsn : null,
      replayTimestamp: null,
      replayPaused: false,
      walReceiverStatus: streaming ? 'streaming' : null,
      walReceiverSender: streaming && pg.applied.followHost !== null ? { host: pg.applied.followHost, port: 5432 } : null,
      // the simulated stream carries every write at once: its receiver is never silent
      walReceiverPid: streaming ? 4000 : null,
      walReceiverSilentMs: streaming ? 0 : null,
      synchronousStandbyNames: pg.applied.ssn,
      replication: pg.inRecovery ? [] : this.standbyRows(),
      physicalSlots: pg.slots.map((name) => ({ name, active: this.w.nodes.some((s) => slotNameFromMemberName(s.name) === name && this.streamsFromHere(s)) })),
      rewindCapable: pg.checksums || pg.walLogHints,
      checkpointTimeline: pg.checkpointTl,
      pendingRestart: [],
    };
  }
  /** pg_stat_replication: the nodes streaming from this one (application_name = member name). */
  private standbyRows(): PostgresProbe['replication'] {
    const names = ackRuleOf(this.pg.applied.ssn);
    const listed = (name: string): boolean => names.kind === 'standbys' && (names.names.includes(name) || names.names.includes('*'));
    const quorum = /^\s*any\s/i.test(this.pg.applied.ssn);
    return this.w.nodes
      .filter((s) => this.streamsFromHere(s))
      .map((s) => ({
        usename: 'replicator',
        applicationName: s.name,
        clientAddr: null,
        state: 'streaming',
        syncState: listed(s.name) ? (quorum ? 'quorum' : 'sync') : 'async',
        syncPriority: listed(s.name) ? 1 : 0,
        flushLsn: s.pg.lsn,
      }));
  }

  /** Node `s` streams WAL from this one (its walsender, and its slot, are in use). */
  private streamsFromHere(s: SimNode): boolean {
    if (s === this.n) return false;
    const src = this.w.streamSource(s);
    return 'src' in src && src.src === this.n;
  }

  async isInRecovery(): Promise<boolean> {
    return this.up().inRecovery;
  }
  async walPositions(): Promise<WalPositions> {
    const pg = this.up();
    return {
      inRecovery: pg.inRecovery,
      currentLsn: pg.inRecovery ? null : pg.lsn,
      receiveLsn: pg.inRecovery ? pg.lsn : null,
      replayLsn: pg.inRecovery ? pg.lsn : null,
    };
  }
  async replicationSample(): Promise<ReplicationSample> {
    const pg = this.up();
    if (pg.inRecovery) throw new Error('recovery is in progress');
    return { primaryFlushBytes: pg.lsn, standbys: this.standbyRows().map((r) => ({ name: r.applicationName, flushLsnBytes: r.flushLsn })) };
  }
  /** The simulated server releases waiting commits as soon as the setting's standbys hold them: nothing to hasten. */
  async releaseSyncWaiters(): Promise<void> {
    this.up();
  }
  async checkpoint(): Promise<void> {
    const pg = this.up();
    pg.checkpointTl = this.w.tl(pg);
  }
  async createBootstrapUsers(_users: BootstrapUsers): Promise<void> {
    this.up().usersCreated = true;
  }
  async syncSlots(wanted: string[], _ignore: readonly SlotMatcher[]): Promise<{ created: string[]; dropped: string[] }> {
    const pg = this.up();
    const created = wanted.filter((s) => !pg.slots.includes(s));
    const dropped = pg.slots.filter((s) => !wanted.includes(s));
    pg.slots = [...wanted];
    return { created, dropped };
  }
  async closeConnection(): Promise<void> {}
}

/** Other members' PostgreSQL over the simulated network (each question takes a round trip). */
export class SimRemote implements RemotePostgres {
  constructor(
    private readonly w: World,
    private readonly proc: SimProcess,
  ) {}

  private ask<T>(endpoint: PostgresEndpoint, timeoutMs: number, answer: (target: SimNode) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const target = this.w.nodes.find((x) => x.name === endpoint.host);
      const reachable = target !== undefined && this.w.linked(this.proc.node.name, target.name);
      if (!reachable) {
        this.w.deliver(this.proc, timeoutMs, () => reject(new SimPgError(`timeout expired connecting to ${endpoint.host}`)));
        return;
      }
      this.w.deliver(this.proc, 2 * this.w.netLatency(), () => {
        if (target.pg.state !== 'up') {
          reject(new SimPgError(`connection to ${endpoint.host} refused`));
          return;
        }
        try {
          resolve(answer(target));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
  }

  async leaderHistory(replication: PostgresEndpoint, rewind: PostgresEndpoint, timeoutMs: number): Promise<LeaderHistory> {
    const answer = (leader: SimNode) => {
      if (leader.pg.inRecovery) throw new SimPgError('the leader is still in recovery');
      return { ok: true as const, timeline: this.w.tl(leader.pg), history: historyOf(leader.pg) };
    };
    try {
      return await this.ask(replication, timeoutMs, (leader) => {
        if (replication.password !== CLUSTER_REPLICATION_PASSWORD) throw new SimPgError('password authentication failed for user "replicator"');
        return answer(leader);
      });
    } catch (first) {
      try {
        if (this.w.params.rewindGrantsMissing) throw new SimPgError('permission denied for function pg_read_binary_file');
        return await this.ask(rewind, timeoutMs, answer);
      } catch (second) {
        const unreached = (error: unknown): boolean => /timeout expired connecting|refused/.test(String(error));
        return {
          ok: false,
          cause: `cannot read the leader's timeline history (${String(first)}; ${String(second)})`,
          unreachable: unreached(first) && unreached(second),
        };
      }
    }
  }

  async leaderHasCheckpointed(endpoint: PostgresEndpoint, timeoutMs: number): Promise<boolean | null> {
    try {
      return await this.ask(endpoint, timeoutMs, (leader) => !leader.pg.inRecovery && leader.pg.checkpointTl === this.w.tl(leader.pg));
    } catch {
      return null;
    }
  }

  isPrimary(endpoint: PostgresEndpoint, timeoutMs: number): Promise<boolean> {
    return this.ask(endpoint, timeoutMs, (target) => !target.pg.inRecovery);
  }
}
