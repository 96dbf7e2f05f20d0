/**
 * The Galera agent (`keel agent galera.yml`): one per MariaDB node, on the shared engine (cycle
 * loop, lease keeper, task runner, etcd client).
 *
 * etcd layout under <namespace><scope>/galera/:
 *   cluster          create-only: the node that created the cluster, and its history UUID. Its
 *                    existence is what makes every later bootstrap a recovery, never a new cluster.
 *   nodes/<name>     persistent registration (gmcast, SQL and REST API addresses): the set recovery
 *                    waits for, and the servers `keel haproxy-config` lists.
 *   members/<name>   on this agent's lease: state, whether it is in a Primary component, api_url.
 *   positions/<name> persistent: the position a stopped node recovered (grastate / --wsrep-recover).
 *   bootstrap-lock   create-only, on the bootstrapping agent's lease: at most one bootstrap at a time.
 *   force-bootstrap  the operator's override (keel galera force-bootstrap NODE).
 *   writer           on the lease of the one Synced node elected to take every write (HAProxy's
 *                    /writer route), so that concurrent writers never meet in certification.
 *
 * Each cycle observes (its mariadbd, etcd in one consistent read), decides (the pure planner for
 * recoveries), and starts at most one long task (recover, bootstrap, join) on the task runner.
 * The bootstrap lock's transaction also compares that no position or member key changed since
 * the read the decision was made on, so a stale view can never start a second bootstrap
 * (the simulator found that one).
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../observability/log.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { CycleLoop } from '../engine/loop.js';
import { LeaseKeeper } from '../engine/lease-keeper.js';
import { TaskRunner } from '../engine/task-runner.js';
import { EtcdClient } from '../engine/etcd/etcd-client.js';
import type { KeyValue } from '../engine/etcd/etcd-wire.js';
import type { HostPort } from '../config/types.js';
import type { GaleraConfig } from './config.js';
import { LocalMariadb } from './mariadb.js';
import { renderOptionFile } from './option-file.js';
import { checkHealth, outOfGroup, type WsrepStatus } from './health.js';
import type { GaleraCounters } from './metrics.js';
import { type ReportedPosition, describeDecision, planRecovery } from './core/recovery-plan.js';
import { ZERO_UUID, isKnownPosition } from './core/position.js';
import { planNonPrimary } from './core/non-primary-plan.js';

type TaskKind = 'recover' | 'bootstrap' | 'join' | 'stop';

export interface MemberRecord {
  state: string;
  primary: boolean;
  api_url: string;
  gmcast: string;
  /** The SQL address (host:port) operators and `keel galera status` connect to. */
  sql: string;
}

/** nodes/<name>: outlives the agent's lease, so a node that is down is still waited for and routed to. */
export interface NodeRegistration {
  gmcast: string;
  /** Added after the first release: older registrations lack them until their agent runs again. */
  sql?: string;
  api_url?: string;
}

interface Snapshot {
  revision: number;
  cluster: { created_by: string; uuid?: string } | null;
  nodes: Map<string, NodeRegistration>;
  members: Map<string, MemberRecord>;
  positions: Map<string, ReportedPosition>;
  lock: string | null;
  override: string | null;
  writer: string | null;
}

const HEALTH_PROBE_TIMEOUT_MS = 1_500;
const STOP_TIMEOUT_MS = 60_000;
/** How long a starting mariadbd may be in no group before its join is taken as failed (connecting takes seconds). */
const JOIN_STALL_MS = 30_000;
/** How often the REST API's view of the server is refreshed (clustercheck asks the server at every check). */
const STATUS_REFRESH_MS = 1_000;

export function galeraPrefix(config: Pick<GaleraConfig, 'namespace' | 'scope'>): string {
  return `${config.namespace}${config.scope}/galera/`;
}

/** An etcd client for a galera.yml's etcd3 section (agent, status, force-bootstrap). */
export function galeraEtcdClient(config: Pick<GaleraConfig, 'etcd'>, requestTimeoutMs: number): EtcdClient {
  return new EtcdClient({
    endpoints: config.etcd.endpoints,
    protocol: config.etcd.protocol,
    ...(config.etcd.username === undefined ? {} : { username: config.etcd.username }),
    ...(config.etcd.password === undefined ? {} : { password: config.etcd.password }),
    requestTimeoutMs,
  });
}

function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function hostPortText(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function splitAddress(text: string): HostPort | null {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return null;
  const port = Number(text.slice(colon + 1));
  return Number.isInteger(port) ? { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port } : null;
}

export class GaleraAgent {
  private readonly clock: Clock;
  private readonly etcd: EtcdClient;
  private readonly loop: CycleLoop;
  private readonly lease: LeaseKeeper;
  private readonly tasks: TaskRunner<TaskKind>;
  private readonly local: LocalMariadb;
  private readonly prefix: string;
  private leaseId: string | null = null;
  private child: ChildProcess | null = null;
  private childExit: string | null = null;
  private adoptedPid: number | null = null;
  /** This node's position while mariadbd is down (null: not known yet; re-read after every failed start). */
  private position: ReportedPosition | null = null;
  private waitingSinceMs: number | null = null;
  /** Since when the running server has been outside a Primary component (null: it is in one, or not up). */
  private nonPrimarySinceMs: number | null = null;
  private lastSentence = '';
  private lastMember = '';
  private stopping = false;
  /** What the REST API shows: the last wsrep status read. */
  status: WsrepStatus | null = null;
  /** This node holds the writer key (as of the last cycle that could read etcd). */
  writer = false;

  constructor(
    private readonly config: GaleraConfig,
    private readonly log: Logger,
  ) {
    this.clock = systemClock;
    this.prefix = galeraPrefix(config);
    this.etcd = galeraEtcdClient(config, Math.max(2_000, Math.floor((config.ttlS * 1000) / 3)));
    this.loop = new CycleLoop(this.clock, log);
    this.lease = new LeaseKeeper(this.clock, { refreshLease: () => this.refreshLease() }, log, () => undefined);
    this.tasks = new TaskRunner<TaskKind>(this.clock, log, 'stop', () => this.loop.wake());
    this.local = new LocalMariadb(config.name, config.galera);
  }

  /**
   * GET /writer's answer: this node took or kept the writer key, and its lease is still valid by
   * its own clock (the last confirmed keepalive's send time + ttl). An agent cut off from etcd
   * stops claiming the key before etcd can give it to another node.
   */
  /** What GET /metrics counts (metrics.ts). */
  counters(): GaleraCounters {
    return { tasksStarted: { ...this.counted.tasksStarted }, pcBootstraps: this.counted.pcBootstraps };
  }

  private readonly counted = { tasksStarted: {} as Record<string, number>, pcBootstraps: 0 };

  /** Starts a long task, counting it for /metrics when the runner took it (not stale, not refused). */
  private startTask(kind: 'recover' | 'bootstrap' | 'join', generation: number, run: () => Promise<void>): void {
    const outcome = this.tasks.start(kind, undefined, generation, run);
    if (outcome === 'started' || outcome === 'queued') this.counted.tasksStarted[kind] = (this.counted.tasksStarted[kind] ?? 0) + 1;
  }

  holdsWriter(): boolean {
    const confirmed = this.lease.lastConfirmedSentMs;
    return this.writer && confirmed !== null && this.clock.now() < confirmed + this.config.ttlS * 1000;
  }

  get apiUrl(): string {
    return `http://${hostPortText(this.config.restapi.connectAddress)}`;
  }

  get gmcast(): string {
    return hostPortText({ host: this.config.galera.nodeAddress, port: this.config.galera.gmcastPort });
  }

  async run(): Promise<number> {
    await this.local.prepareDirectories();
    this.adoptedPid = this.local.runningPid();
    if (this.adoptedPid !== null) this.log.info(`mariadbd is already running (pid ${this.adoptedPid}): watching it`);
    const watching = this.watchStatus();
    await this.loop.run(
      () => this.cycle(),
      () => this.config.loopWaitMs,
    );
    await watching;
    await this.tasks.settle(STOP_TIMEOUT_MS);
    if (this.leaseId !== null) await this.etcd.leaseRevoke(this.leaseId).catch(() => false);
    this.etcd.close();
    return 0;
  }

  /** SIGTERM: the agent stops; mariadbd keeps running (stopping the database is an operator's act). */
  stop(): void {
    this.stopping = true;
    this.loop.stop();
  }

  private async refreshLease(): Promise<boolean> {
    if (this.leaseId !== null) {
      const ttl = await this.etcd.leaseKeepAlive(this.leaseId);
      if (ttl > 0) return true;
      this.log.warning('the etcd lease expired: granting a new one');
      this.lastMember = '';
    }
    this.leaseId = (await this.etcd.leaseGrant(this.config.ttlS)).id;
    return true;
  }

  private say(sentence: string): void {
    if (sentence !== this.lastSentence) this.log.info(sentence);
    this.lastSentence = sentence;
  }

  private running(): boolean {
    if (this.child !== null) return true;
    if (this.adoptedPid !== null) {
      try {
        process.kill(this.adoptedPid, 0);
        return true;
      } catch {
        this.adoptedPid = null;
      }
    }
    return false;
  }

  private async read(): Promise<Snapshot> {
    const answer = await this.etcd.range(this.prefix, { prefix: true });
    const snapshot: Snapshot = {
      revision: answer.revision,
      cluster: null,
      nodes: new Map(),
      members: new Map(),
      positions: new Map(),
      lock: null,
      override: null,
      writer: null,
    };
    for (const kv of answer.kvs as KeyValue[]) {
      const key = kv.key.slice(this.prefix.length);
      const [kind, name] = key.split('/');
      if (key === 'cluster') snapshot.cluster = parseJson(kv.value);
      else if (key === 'bootstrap-lock') snapshot.lock = parseJson<{ node: string }>(kv.value)?.node ?? null;
      else if (key === 'force-bootstrap') snapshot.override = parseJson<{ node: string }>(kv.value)?.node ?? null;
      else if (key === 'writer') snapshot.writer = parseJson<{ node: string }>(kv.value)?.node ?? null;
      else if (name !== undefined && kind === 'nodes') {
        const value = parseJson<NodeRegistration>(kv.value);
        if (value !== null) snapshot.nodes.set(name, value);
      } else if (name !== undefined && kind === 'members') {
        const value = parseJson<MemberRecord>(kv.value);
        if (value !== null) snapshot.members.set(name, value);
      } else if (name !== undefined && kind === 'positions') {
        const value = parseJson<{ uuid: string; seqno: number; safe_to_bootstrap: boolean }>(kv.value);
        if (value !== null) snapshot.positions.set(name, { uuid: value.uuid, seqno: value.seqno, safeToBootstrap: value.safe_to_bootstrap });
      }
    }
    return snapshot;
  }

  private get sqlAddress(): string {
    return hostPortText({ host: this.config.galera.nodeAddress, port: this.config.galera.port });
  }

  private registration(): NodeRegistration {
    return { gmcast: this.gmcast, sql: this.sqlAddress, api_url: this.apiUrl };
  }

  private async publishMember(state: string, primary: boolean): Promise<void> {
    const sql = this.sqlAddress;
    const record: MemberRecord = { state, primary, api_url: this.apiUrl, gmcast: this.gmcast, sql };
    const text = JSON.stringify(record);
    if (text === this.lastMember) return;
    await this.etcd.put(`${this.prefix}members/${this.config.name}`, text, { lease: this.leaseId });
    this.lastMember = text;
  }

  /** The server as it is now; null while it is down or being started by a task (not serving). */
  private async readStatus(): Promise<WsrepStatus | null> {
    return this.running() && !this.tasks.isRunning() ? await this.local.status(this.config.galera.superuser) : null;
  }

  /**
   * Keeps `status` (what GET /health and /writer answer from) fresh on its own timer, apart from
   * the cycle: a cycle can spend seconds waiting on an etcd that does not answer, and a node cut
   * off by a partition goes Non-Primary meanwhile; a stale "Synced" would keep HAProxy routing
   * reads and writes to it.
   */
  private async watchStatus(): Promise<void> {
    while (!this.stopping) {
      this.status = await this.readStatus();
      await this.clock.sleep(STATUS_REFRESH_MS);
    }
  }

  private async cycle(): Promise<void> {
    if (this.stopping) return;
    this.status = await this.readStatus();
    const leaseConfirmed = await this.lease.keepalive();
    if (!leaseConfirmed && this.status !== null && this.status.clusterStatus !== 'Primary') {
      // the minority side of a partition: it must never bootstrap, and cannot even ask
      this.say('Non-Primary component and no etcd majority answers: waiting; pc.bootstrap needs the bootstrap lock, granted by the etcd majority only');
    }
    if (this.leaseId === null) return;
    const snapshot = await this.read();
    const registration = this.registration();
    const registered = snapshot.nodes.get(this.config.name);
    if (registered === undefined || JSON.stringify(registered) !== JSON.stringify(registration)) {
      await this.etcd.put(`${this.prefix}nodes/${this.config.name}`, JSON.stringify(registration));
    }
    if (this.tasks.isRunning()) {
      const task = this.tasks.current();
      await this.publishMember(task?.kind === 'recover' ? 'recovering' : task?.kind === 'bootstrap' ? 'bootstrapping' : 'joining', false);
      return;
    }
    if (this.running()) {
      await this.observeRunning(snapshot);
      return;
    }
    this.status = null;
    await this.releaseWriter(snapshot);
    await this.publishMember('stopped', false);
    await this.decideStopped(snapshot);
  }

  private async observeRunning(snapshot: Snapshot): Promise<void> {
    const status = this.status;
    const health = checkHealth(status);
    const primary = health.ok;
    await this.publishMember(status === null ? 'not answering' : status.localStateComment || 'unknown', primary);
    if (!primary || status === null) {
      await this.releaseWriter(snapshot);
      this.say(`mariadbd is up, not serving: ${health.reason}`);
      if (status !== null && status.clusterStatus !== 'Primary') await this.handleNonPrimary(snapshot, status);
      else this.nonPrimarySinceMs = null;
      return;
    }
    this.nonPrimarySinceMs = null;
    await this.electWriter(snapshot);
    this.say(`mariadbd is ${status.localStateComment} in a Primary component of ${status.clusterSize}`);
    this.position = null;
    this.waitingSinceMs = null;
    const name = this.config.name;
    if (snapshot.positions.has(name)) await this.etcd.deleteRange(`${this.prefix}positions/${name}`);
    if (snapshot.lock === name) await this.etcd.deleteRange(`${this.prefix}bootstrap-lock`);
    if (snapshot.override !== null) await this.etcd.deleteRange(`${this.prefix}force-bootstrap`);
    if (snapshot.cluster !== null && snapshot.cluster.uuid === undefined && status.clusterStateUuid !== '' && status.clusterStateUuid !== ZERO_UUID) {
      await this.etcd.put(`${this.prefix}cluster`, JSON.stringify({ ...snapshot.cluster, uuid: status.clusterStateUuid }));
    }
  }

  /** A component that stays Non-Primary: pc.bootstrap=YES on this node only when the pure rule and the bootstrap lock allow it. */
  private async handleNonPrimary(snapshot: Snapshot, status: WsrepStatus): Promise<void> {
    const now = this.clock.now();
    this.nonPrimarySinceMs ??= now;
    const decision = planNonPrimary({
      self: this.config.name,
      nonPrimaryForMs: now - this.nonPrimarySinceMs,
      timeoutMs: this.config.galera.nonPrimaryTimeoutMs,
      primaryClaims: [...snapshot.members].filter(([, member]) => member.primary).map(([name]) => name),
      uuid: status.clusterStateUuid,
      lastCommitted: status.lastCommitted,
      positions: Object.fromEntries(snapshot.positions),
      bootstrapLockHolder: snapshot.lock,
    });
    if (decision.kind === 'wait') {
      this.say(`Non-Primary component: ${decision.why}`);
      return;
    }
    const locked = await this.etcd.txn({
      compare: [
        { key: `${this.prefix}bootstrap-lock`, target: 'CREATE', createRevision: 0 },
        { key: `${this.prefix}positions/`, target: 'MOD', modRevision: snapshot.revision + 1, result: 'LESS', prefix: true },
        { key: `${this.prefix}members/`, target: 'MOD', modRevision: snapshot.revision + 1, result: 'LESS', prefix: true },
      ],
      success: [{ put: { key: `${this.prefix}bootstrap-lock`, value: JSON.stringify({ node: this.config.name }), lease: this.leaseId } }],
    });
    if (!locked.succeeded && snapshot.lock !== this.config.name) return;
    this.log.warning(
      `Non-Primary for ${Math.round((now - this.nonPrimarySinceMs) / 1000)} s with no Primary component anywhere and no node ahead: pc.bootstrap=YES on this node`,
    );
    await this.local.pcBootstrap(this.config.galera.superuser);
    this.counted.pcBootstraps++;
  }

  /** A healthy node takes the free writer key (create-only, on its lease); the holder keeps it while healthy. */
  private async electWriter(snapshot: Snapshot): Promise<void> {
    if (snapshot.writer === this.config.name) {
      this.writer = true;
      return;
    }
    this.writer = false;
    if (snapshot.writer !== null) return;
    const taken = await this.etcd.txn({
      compare: [{ key: `${this.prefix}writer`, target: 'CREATE', createRevision: 0 }],
      success: [{ put: { key: `${this.prefix}writer`, value: JSON.stringify({ node: this.config.name }), lease: this.leaseId } }],
    });
    this.writer = taken.succeeded;
    if (taken.succeeded) this.log.info('this node is now the writer (GET /writer answers 200 here)');
  }

  private async releaseWriter(snapshot: Snapshot): Promise<void> {
    this.writer = false;
    if (snapshot.writer !== this.config.name) return;
    await this.etcd.txn({
      compare: [{ key: `${this.prefix}writer`, target: 'VALUE', value: JSON.stringify({ node: this.config.name }) }],
      success: [{ deleteRange: { key: `${this.prefix}writer` } }],
    });
    this.log.info('not serving: the writer key is released for a healthy node');
  }

  private peers(snapshot: Snapshot): HostPort[] {
    const out: HostPort[] = [];
    for (const [name, node] of snapshot.nodes) {
      if (name === this.config.name) continue;
      const address = splitAddress(node.gmcast);
      if (address !== null) out.push(address);
    }
    return out;
  }

  /** At least one member that says it is in a Primary component also answers its health check. */
  private async reachablePrimaries(snapshot: Snapshot): Promise<string[]> {
    const claimed = [...snapshot.members].filter(([name, member]) => member.primary && name !== this.config.name);
    const checks = await Promise.all(
      claimed.map(async ([name, member]) => {
        try {
          const response = await fetch(`${member.api_url}/health`, { signal: AbortSignal.timeout(HEALTH_PROBE_TIMEOUT_MS) });
          return response.status === 200 ? name : null;
        } catch {
          return null;
        }
      }),
    );
    return checks.filter((name): name is string => name !== null);
  }

  private async decideStopped(snapshot: Snapshot): Promise<void> {
    const name = this.config.name;
    const generation = this.tasks.snapshot().generation;
    if (snapshot.cluster === null) {
      // First start of the cluster: one create-only key elects the node that creates it.
      const created = await this.etcd.txn({
        compare: [{ key: `${this.prefix}cluster`, target: 'CREATE', createRevision: 0 }],
        success: [
          { put: { key: `${this.prefix}cluster`, value: JSON.stringify({ created_by: name }) } },
          { put: { key: `${this.prefix}bootstrap-lock`, value: JSON.stringify({ node: name }), lease: this.leaseId } },
        ],
      });
      if (!created.succeeded) return;
      this.log.info(`creating the Galera cluster ${this.config.galera.clusterName}: this node (${name}) bootstraps it`);
      this.startTask('bootstrap', generation, () => this.releasingLockOnFailure(() => this.bootstrapNew()));
      return;
    }
    const primaries = await this.reachablePrimaries(snapshot);
    if (primaries.length > 0) {
      this.say(`joining the Primary component (${primaries.join(', ')})`);
      this.startTask('join', generation, () => this.join(snapshot));
      return;
    }
    if (!this.local.hasData()) {
      this.say(`waiting for a Primary component to join (this node has no data yet; the cluster was created by ${snapshot.cluster.created_by})`);
      return;
    }
    if (this.position === null) {
      this.startTask('recover', generation, () => this.recover());
      return;
    }
    const reported = snapshot.positions.get(name);
    if (reported === undefined || reported.seqno !== this.position.seqno || reported.uuid !== this.position.uuid) {
      await this.etcd.put(
        `${this.prefix}positions/${name}`,
        JSON.stringify({ uuid: this.position.uuid, seqno: this.position.seqno, safe_to_bootstrap: this.position.safeToBootstrap }),
      );
      this.loop.wake();
      return;
    }
    const now = this.clock.now();
    this.waitingSinceMs ??= now;
    const decision = planRecovery({
      nodes: [...snapshot.nodes.keys()],
      // members the health check found Primary were handled above; the claim of a stale key is not enough
      primaryMembers: [],
      positions: Object.fromEntries(snapshot.positions),
      clusterUuid: snapshot.cluster.uuid ?? null,
      bootstrapLockHolder: snapshot.lock,
      override: snapshot.override,
      waitingMs: now - this.waitingSinceMs,
      reportTimeoutMs: this.config.galera.reportTimeoutMs,
    });
    this.say(describeDecision(decision));
    if (decision.kind !== 'bootstrap' || decision.node !== name) return;
    const locked = await this.etcd.txn({
      compare: [
        { key: `${this.prefix}bootstrap-lock`, target: 'CREATE', createRevision: 0 },
        { key: `${this.prefix}positions/`, target: 'MOD', modRevision: snapshot.revision + 1, result: 'LESS', prefix: true },
        { key: `${this.prefix}members/`, target: 'MOD', modRevision: snapshot.revision + 1, result: 'LESS', prefix: true },
      ],
      success: [{ put: { key: `${this.prefix}bootstrap-lock`, value: JSON.stringify({ node: name }), lease: this.leaseId } }],
    });
    if (!locked.succeeded) {
      this.log.info('not bootstrapping: etcd changed since the decision (another bootstrap, a new report or a member); deciding again');
      return;
    }
    this.startTask('bootstrap', this.tasks.snapshot().generation, () => this.releasingLockOnFailure(() => this.bootstrapRecovered(decision.position)));
  }

  /** A bootstrap that failed frees the lock at once (not a ttl later) so the next plan can run. */
  private async releasingLockOnFailure(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      await this.etcd
        .txn({
          compare: [{ key: `${this.prefix}bootstrap-lock`, target: 'VALUE', value: JSON.stringify({ node: this.config.name }) }],
          success: [{ deleteRange: { key: `${this.prefix}bootstrap-lock` } }],
        })
        .catch(() => undefined);
      throw error;
    }
  }

  private async recover(): Promise<void> {
    const peersSnapshot = await this.read();
    await this.local.writeOptionFile(this.optionFile(this.peers(peersSnapshot)));
    const state = await this.local.readGrastate();
    if (state !== null && isKnownPosition(state)) {
      this.position = { uuid: state.uuid, seqno: state.seqno, safeToBootstrap: state.safeToBootstrap };
      this.log.info(`position from grastate.dat: ${state.uuid}:${state.seqno} (safe_to_bootstrap ${state.safeToBootstrap ? 1 : 0})`);
      return;
    }
    const recovered = await this.local.recoverPosition();
    this.position = { ...recovered, safeToBootstrap: state?.safeToBootstrap === true && recovered.seqno >= 0 };
    this.log.info(`position from mariadbd --wsrep-recover: ${recovered.uuid}:${recovered.seqno}`);
  }

  private optionFile(peers: HostPort[]): string {
    return renderOptionFile({ name: this.config.name, node: this.config.galera, peers, errorLog: this.local.errorLog, pidFile: this.local.pidFile });
  }

  private async bootstrapNew(): Promise<void> {
    await this.local.writeOptionFile(this.optionFile([]));
    await this.local.installDb();
    await this.startAndWait(['--wsrep-new-cluster'], { username: 'root', password: '' });
    await this.local.createSuperuser(this.config.galera.superuser);
    this.log.info(`the cluster is created; the SQL user ${this.config.galera.superuser.username} exists`);
  }

  /** The planner chose this node: the agent sets safe_to_bootstrap itself and starts a new Primary component from its position. */
  private async bootstrapRecovered(position: ReportedPosition): Promise<void> {
    const snapshot = await this.read();
    await this.local.writeOptionFile(this.optionFile(this.peers(snapshot)));
    await this.local.writeGrastate({ version: '2.1', uuid: position.uuid, seqno: position.seqno, safeToBootstrap: true });
    this.log.info(`bootstrapping the cluster from ${position.uuid}:${position.seqno}`);
    await this.startAndWait(['--wsrep-new-cluster', `--wsrep-start-position=${position.uuid}:${position.seqno}`], this.config.galera.superuser);
  }

  private async join(snapshot: Snapshot): Promise<void> {
    await this.local.writeOptionFile(this.optionFile(this.peers(snapshot)));
    const args: string[] = [];
    if (this.local.hasData()) {
      // after a crash grastate.dat says -1: start from the recovered position so IST can be used
      if (this.position === null) await this.recover().catch((error: unknown) => this.log.warning(`no position before joining: ${String(error)}`));
      const position = this.position;
      if (position !== null && isKnownPosition(position)) args.push(`--wsrep-start-position=${position.uuid}:${position.seqno}`);
    }
    await this.startAndWait(args, this.config.galera.superuser);
  }

  private async startAndWait(args: string[], user: { username: string; password: string }): Promise<void> {
    this.childExit = null;
    const child = this.local.start(args);
    this.child = child;
    child.on('exit', (code, signal) => {
      this.childExit = signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`;
      if (this.child === child) this.child = null;
      // a failed or crashed server: its position must be read again before any decision
      this.position = null;
      this.lastMember = '';
      this.log.warning(`mariadbd exited (${this.childExit})`);
      this.loop.wake();
    });
    const deadline = this.clock.now() + this.config.galera.startTimeoutMs;
    let outSinceMs: number | null = null;
    while (this.clock.now() < deadline) {
      if (this.child !== child) throw new Error(`mariadbd did not start: ${this.childExit ?? 'it exited'}; see ${this.local.errorLog}`);
      const status = await this.local.status(user);
      if (status !== null && checkHealth(status).ok) return;
      // A join can fail with mariadbd still running, in no group for good (seen after a kill -9 of
      // every node: the state transfer failed, a final non-primary view with no members), and it
      // would be waited for until start_timeout (10 min by default). Out of every group for
      // JOIN_STALL_MS, it is stopped and the next decision joins again.
      if (outOfGroup(status)) {
        outSinceMs ??= this.clock.now();
        if (this.clock.now() - outSinceMs >= JOIN_STALL_MS) {
          child.kill('SIGKILL');
          throw new Error(
            `mariadbd has been in no group for ${JOIN_STALL_MS / 1000} s (wsrep_cluster_status ${status?.clusterStatus ?? '?'}, wsrep_connected ${status?.connected ?? '?'}): stopped to join again; see ${this.local.errorLog}`,
          );
        }
      } else {
        outSinceMs = null;
      }
      await this.clock.sleep(500);
    }
    child.kill('SIGKILL');
    throw new Error(`mariadbd did not become Synced within ${this.config.galera.startTimeoutMs} ms; see ${this.local.errorLog}`);
  }
}
