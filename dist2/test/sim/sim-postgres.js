import { formatLsn } from '../../src/ha/core/lsn.js';
import { CLUSTER_REPLICATION_PASSWORD } from './world.js';
import { FENCE_STANDBY_NAME } from '../../src/ha/postgres-tracker.js';
class SimPgError extends Error {
}
function hostOfConninfo(conninfo) {
    return /(?:^|\s)host=(\S+)/.exec(conninfo)?.[1] ?? null;
}
/** The switch points of a lineage, as the history file of its last timeline lists them. */
function historyOf(pg) {
    return pg.lineage.slice(1).map((seg, i) => ({ timeline: pg.lineage[i]?.tl ?? 0, switchLsn: seg.fromLsn }));
}
export function controlDataOf(w, pg) {
    const tl = w.tl(pg);
    const state = pg.state !== 'down'
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
export class SimPostgresNode {
    w;
    proc;
    n;
    constructor(w, proc) {
        this.w = w;
        this.proc = proc;
        this.n = proc.node;
    }
    get pg() {
        return this.n.pg;
    }
    /** Resolves (in the agent's process) after a random delay, running `effect` at that instant. */
    after(range, effect) {
        return new Promise((resolve, reject) => {
            this.w.deliver(this.proc, this.w.rng.int(range[0], range[1]), () => {
                try {
                    resolve(effect());
                }
                catch (error) {
                    reject(error instanceof Error ? error : new Error(String(error)));
                }
            });
        });
    }
    async dataDirState() {
        return this.pg.dataDir;
    }
    async controlData() {
        if (this.pg.dataDir !== 'initialized')
            throw new SimPgError('pg_controldata failed: no data directory');
        return controlDataOf(this.w, this.pg);
    }
    async hasStandbySignal() {
        return this.pg.conf !== null && this.pg.conf.recovery !== null;
    }
    async managedConfigText() {
        const params = this.pg.conf?.params ?? {};
        return Object.entries(params)
            .map(([k, v]) => `${k} = '${v}'`)
            .join('\n');
    }
    async timelineHistoryText(timeline) {
        const pg = this.pg;
        if (pg.dataDir !== 'initialized' || timeline > this.w.tl(pg) || timeline <= 1)
            return null;
        const lines = historyOf(pg).filter((h) => h.timeline < timeline);
        return lines.map((h) => `${h.timeline}\t${formatLsn(h.switchLsn)}\tno recovery target specified`).join('\n') + '\n';
    }
    async serverLogText() {
        const error = this.pg.receiverError;
        return error === null ? '' : `FATAL:  could not connect to the primary server: ${error}\n`;
    }
    async readTimelineOrigin() {
        return this.pg.dataDir === 'initialized' ? this.pg.timelineOrigin : null;
    }
    async writeTimelineOrigin(origin) {
        this.pg.timelineOrigin = { ...origin };
    }
    async postmasterPid() {
        return this.pg.state === 'down' ? null : 4242;
    }
    /** pg_ctl start -W: returns once the postmaster is launched; it accepts connections after a while. */
    async start() {
        const pg = this.pg;
        if (pg.state !== 'down')
            return;
        if (pg.dataDir !== 'initialized' || pg.conf === null)
            throw new SimPgError('pg_ctl start failed: no data directory');
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
            if (pg.epoch !== epoch || pg.state !== 'starting')
                return;
            pg.state = 'up';
            pg.upSinceMs = this.w.nowMs;
            this.w.trace(`${this.n.name}: PostgreSQL accepts connections`);
        });
    }
    async stop(mode) {
        const pg = this.pg;
        if (pg.state === 'down')
            return false;
        return this.after(mode === 'immediate' ? [5, 50] : [50, 400], () => {
            this.w.downPg(this.n, mode !== 'immediate', `stopped (${mode})`);
            return true;
        });
    }
    async kill() {
        this.w.downPg(this.n, false, 'killed (SIGKILL)');
    }
    /** SIGHUP: the running server re-reads synchronous_standby_names and primary_conninfo. */
    async reload() {
        const pg = this.pg;
        if (pg.state === 'down' || pg.conf === null)
            return false;
        const conf = pg.conf;
        this.w.at(this.w.rng.int(1, 20), () => {
            if (pg.state === 'down')
                return;
            const ssn = conf.params['synchronous_standby_names'] ?? '';
            if (ssn === FENCE_STANDBY_NAME && pg.applied.ssn !== FENCE_STANDBY_NAME)
                this.w.checkFence(this.n);
            pg.applied = { ssn, followHost: pg.inRecovery && conf.recovery !== null ? hostOfConninfo(conf.recovery.primaryConninfo) : null };
        });
        return true;
    }
    /** pg_ctl promote -W: returns at once; the server leaves recovery after a while. */
    async requestPromote() {
        const pg = this.pg;
        if (pg.state !== 'up' || !pg.inRecovery)
            throw new SimPgError('pg_ctl promote failed: server is not in standby mode');
        pg.promoteRequestedAtMs = this.w.nowMs;
        this.w.checkPromotion(this.n);
        const epoch = pg.epoch;
        this.w.at(this.w.rng.int(20, 400), () => {
            if (pg.epoch !== epoch || pg.state !== 'up' || !pg.inRecovery)
                return;
            this.w.promotePg(this.n);
        });
    }
    writeConfig(parameters, recovery) {
        const n = this.n;
        return this.after(n.configWriteDelayMs, () => {
            if (n.configWriteFails)
                throw new SimPgError('could not write postgresql.conf: Input/output error');
            n.pg.conf = { params: { ...parameters }, recovery: recovery === null ? null : { ...recovery } };
        });
    }
    async writePgpass(_path, entries) {
        const replication = entries.find((e) => e.user.username === 'replicator');
        this.pg.pgpassReplicationPassword = replication?.user.password ?? null;
    }
    initdb(args, _superuser) {
        const pg = this.pg;
        if (pg.dataDir === 'initialized')
            throw new SimPgError('initdb: data directory is not empty');
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
    async appendHba() { }
    async replaceHba() { }
    cloneFrom(source, _extraArgs, _timeoutMs, _onProgress, beforeReplace) {
        const pg = this.pg;
        if (pg.dataDir === 'initialized' && beforeReplace === undefined)
            throw new SimPgError('data directory is not empty; refusing to clone into it');
        return this.after([500, 3000], () => {
            const src = this.w.nodes.find((x) => x.name === source.host);
            if (src === undefined || src.pg.state !== 'up' || !this.w.linked(this.n.name, src.name))
                throw new SimPgError(`pg_basebackup failed: could not connect to ${source.host}`);
            if (source.password !== CLUSTER_REPLICATION_PASSWORD)
                throw new SimPgError('pg_basebackup failed: password authentication failed for user "replicator"');
            return {
                sysid: src.pg.sysid,
                lineage: src.pg.lineage.map((s) => ({ ...s })),
                lsn: src.pg.lsn,
                checksums: src.pg.checksums,
                checkpointTl: this.w.tl(src.pg),
                timelineOrigin: src.pg.timelineOrigin,
            };
        }).then(async (copy) => {
            if (beforeReplace !== undefined)
                await beforeReplace();
            if (pg.state !== 'down')
                throw new SimPgError('refusing to replace the data directory: PostgreSQL is running on it');
            Object.assign(pg, copy, { dataDir: 'initialized', shutdownClean: true, inRecovery: true });
        });
    }
    /** pg_rewind as PostgreSQL 15 does it, against the source's CONTROL FILE timeline. */
    rewind(sourceConninfo) {
        const pg = this.pg;
        return this.after([300, 2000], () => {
            if (pg.state !== 'down')
                throw new SimPgError('pg_rewind: target server must be shut down cleanly');
            const src = this.w.nodes.find((x) => x.name === hostOfConninfo(sourceConninfo));
            if (src === undefined || src.pg.state !== 'up' || !this.w.linked(this.n.name, src.name))
                throw new SimPgError('pg_rewind: could not connect to the source server');
            if (this.w.params.rewindGrantsMissing)
                throw new SimPgError('pg_rewind: permission denied for function pg_read_binary_file');
            if (!pg.checksums && !pg.walLogHints)
                throw new SimPgError('pg_rewind: target server needs to use either data checksums or "wal_log_hints = on"');
            const targetTl = controlDataOf(this.w, pg).timeline;
            if (src.pg.checkpointTl === targetTl)
                return; // "source and target cluster are on the same timeline; no rewind required"
            pg.timelineOrigin = src.pg.timelineOrigin; // non-relation files come from the source
            let common = 0;
            while (common < pg.lineage.length && src.pg.lineage[common]?.uid === pg.lineage[common]?.uid)
                common++;
            if (common === 0)
                throw new SimPgError('pg_rewind: source and target clusters are from different systems');
            pg.lineage = src.pg.lineage.map((s) => ({ ...s }));
            pg.lsn = Math.min(pg.lsn, src.pg.lineage[common]?.fromLsn ?? src.pg.lsn, src.pg.lsn);
            pg.checkpointTl = this.w.tl(pg);
            pg.shutdownClean = true;
            pg.inRecovery = true;
        });
    }
    async setAside() {
        if (this.pg.dataDir === 'missing')
            return null;
        this.pg.dataDir = 'missing';
        return `${this.n.name}-data.failed`;
    }
    connectTo(_target) { }
    up() {
        const pg = this.pg;
        if (pg.state !== 'up')
            throw new SimPgError('connection refused');
        return pg;
    }
    async probe() {
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
            synchronousStandbyNames: pg.applied.ssn,
            replication: [],
            rewindCapable: pg.checksums || pg.walLogHints,
            checkpointTimeline: pg.checkpointTl,
            pendingRestart: [],
        };
    }
    async isInRecovery() {
        return this.up().inRecovery;
    }
    async checkpoint() {
        const pg = this.up();
        pg.checkpointTl = this.w.tl(pg);
    }
    async createBootstrapUsers(_users) {
        this.up().usersCreated = true;
    }
    async syncSlots(wanted) {
        const pg = this.up();
        const created = wanted.filter((s) => !pg.slots.includes(s));
        const dropped = pg.slots.filter((s) => !wanted.includes(s));
        pg.slots = [...wanted];
        return { created, dropped };
    }
    async closeConnection() { }
}
/** Other members' PostgreSQL over the simulated network (each question takes a round trip). */
export class SimRemote {
    w;
    proc;
    constructor(w, proc) {
        this.w = w;
        this.proc = proc;
    }
    ask(endpoint, timeoutMs, answer) {
        return new Promise((resolve, reject) => {
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
                }
                catch (error) {
                    reject(error instanceof Error ? error : new Error(String(error)));
                }
            });
        });
    }
    async leaderHistory(replication, rewind, timeoutMs) {
        const answer = (leader) => {
            if (leader.pg.inRecovery)
                throw new SimPgError('the leader is still in recovery');
            return { ok: true, timeline: this.w.tl(leader.pg), history: historyOf(leader.pg) };
        };
        try {
            return await this.ask(replication, timeoutMs, (leader) => {
                if (replication.password !== CLUSTER_REPLICATION_PASSWORD)
                    throw new SimPgError('password authentication failed for user "replicator"');
                return answer(leader);
            });
        }
        catch (first) {
            try {
                if (this.w.params.rewindGrantsMissing)
                    throw new SimPgError('permission denied for function pg_read_binary_file');
                return await this.ask(rewind, timeoutMs, answer);
            }
            catch (second) {
                return { ok: false, cause: `cannot read the leader's timeline history (${String(first)}; ${String(second)})` };
            }
        }
    }
    async leaderHasCheckpointed(endpoint, timeoutMs) {
        try {
            return await this.ask(endpoint, timeoutMs, (leader) => !leader.pg.inRecovery && leader.pg.checkpointTl === this.w.tl(leader.pg));
        }
        catch {
            return null;
        }
    }
    isPrimary(endpoint, timeoutMs) {
        return this.ask(endpoint, timeoutMs, (target) => !target.pg.inRecovery);
    }
}
//# sourceMappingURL=sim-postgres.js.map