/**
 * This node's PostgreSQL for real: PostgresInstance (programs run as the postgres OS user, files
 * in the data directory) plus keel's own SQL connection, behind the PostgresNode port.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Credentials, SlotMatcher } from '../config/types.js';
import { historyFileName } from '../ha/core/timeline.js';
import type { ReplicationSample } from '../ha/core/sync-stall.js';
import { writeFileAtomic, type RecoverySettings } from './conf-files.js';
import type { ControlData } from './controldata.js';
import { PostgresInstance, defaultServerLog } from './instance.js';
import type { BootstrapUsers, DataDirState, PgpassEntry, PostgresNode, ReplicationSource, StopMode, TimelineOrigin } from './ports.js';
import { PostgresConnection, type ConnectTarget, type PostgresProbe, type WalPositions } from './probe.js';
import { createBootstrapUsers, writePgpass } from './procedures.js';
import { syncPhysicalSlots } from './slots.js';

/** The timeline-origin marker's file in the data directory (PostgreSQL ignores it; its tools copy it). */
const TIMELINE_ORIGIN_FILE = 'keel.timeline-origin';

/** Deadline of every statement on keel's own connection. */
const SQL_TIMEOUT_MS = 5000;

export interface LocalPostgresPaths {
  dataDir: string;
  configDir: string;
  binDir: string;
}

export class LocalPostgres implements PostgresNode {
  private readonly instance: PostgresInstance;
  private conn: PostgresConnection | null = null;
  private target: ConnectTarget | null = null;

  constructor(private readonly paths: LocalPostgresPaths) {
    this.instance = new PostgresInstance({ ...paths, logFile: defaultServerLog(paths.dataDir) });
  }

  dataDirState(): Promise<DataDirState> {
    return this.instance.dataDirState();
  }
  controlData(): Promise<ControlData> {
    return this.instance.controlData();
  }
  async hasStandbySignal(): Promise<boolean> {
    return existsSync(join(this.paths.dataDir, 'standby.signal'));
  }
  managedConfigText(): Promise<string> {
    return readFile(join(this.paths.configDir, 'postgresql.conf'), 'utf8').catch(() => '');
  }
  timelineHistoryText(timeline: number): Promise<string | null> {
    return readFile(join(this.paths.dataDir, 'pg_wal', historyFileName(timeline)), 'utf8').catch(() => null);
  }
  serverLogText(maxBytes: number): Promise<string> {
    return this.instance.serverLogText(maxBytes);
  }
  serverLogSince(offset: number | null, maxBytes: number): Promise<{ text: string; end: number }> {
    return this.instance.serverLogSince(offset, maxBytes);
  }
  async readTimelineOrigin(): Promise<TimelineOrigin | null> {
    // Every cycle, synchronously (as PostgresInstance.dataDirState). The file is usually absent:
    // a stat that says so is cheaper than a read that throws (issue 12).
    const path = join(this.paths.dataDir, TIMELINE_ORIGIN_FILE);
    if (statSync(path, { throwIfNoEntry: false }) === undefined) return null;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return null;
    }
    try {
      const parsed = JSON.parse(text) as { timeline?: unknown; member?: unknown };
      return typeof parsed.timeline === 'number' && typeof parsed.member === 'string' ? { timeline: parsed.timeline, member: parsed.member } : null;
    } catch {
      return null;
    }
  }
  async writeTimelineOrigin(origin: TimelineOrigin): Promise<void> {
    await writeFileAtomic(join(this.paths.dataDir, TIMELINE_ORIGIN_FILE), `${JSON.stringify(origin)}\n`);
  }

  postmasterPid(): Promise<number | null> {
    return this.instance.postmasterPid();
  }
  start(timeoutMs: number): Promise<void> {
    return this.instance.start(timeoutMs);
  }
  stop(mode: StopMode, timeoutMs: number): Promise<boolean> {
    return this.instance.stop(mode, timeoutMs);
  }
  kill(): Promise<void> {
    return this.instance.kill();
  }
  reload(): Promise<boolean> {
    return this.instance.reload();
  }
  requestPromote(timeoutMs: number): Promise<void> {
    return this.instance.requestPromote(timeoutMs);
  }

  writeConfig(parameters: Record<string, string>, recovery: RecoverySettings | null): Promise<void> {
    return this.instance.writeConfig(parameters, recovery);
  }
  writePgpass(path: string, entries: PgpassEntry[]): Promise<void> {
    return writePgpass(path, entries);
  }
  writeBackupConfig(path: string, text: string): Promise<void> {
    return writeFileAtomic(path, text);
  }
  initdb(args: string[], superuser: Credentials): Promise<void> {
    return this.instance.initdb(args, superuser);
  }
  appendHba(lines: string[]): Promise<void> {
    return this.instance.appendHba(lines);
  }
  replaceHba(lines: string[]): Promise<void> {
    return this.instance.replaceHba(lines);
  }
  cloneFrom(
    source: ReplicationSource,
    extraArgs: string[],
    timeoutMs: number,
    onProgress?: (line: string) => void,
    beforeReplace?: () => Promise<void>,
  ): Promise<void> {
    return this.instance.cloneFrom(source, extraArgs, timeoutMs, onProgress, beforeReplace);
  }
  rewind(sourceConninfo: string, password: string | undefined, timeoutMs: number): Promise<void> {
    return this.instance.rewind(sourceConninfo, password, timeoutMs);
  }
  async setAside(suffix: string): Promise<string | null> {
    if ((await this.instance.dataDirState()) === 'missing') return null;
    const aside = `${this.paths.dataDir}.${suffix}`;
    await rename(this.paths.dataDir, aside);
    return aside;
  }

  connectTo(target: ConnectTarget): void {
    const same = this.target !== null && JSON.stringify(this.target) === JSON.stringify(target);
    if (same) return;
    void this.conn?.close();
    this.target = target;
    this.conn = new PostgresConnection(target, SQL_TIMEOUT_MS);
  }
  private connection(): PostgresConnection {
    if (this.conn === null) throw new Error('LocalPostgres: connectTo() was never called');
    return this.conn;
  }
  probe(): Promise<PostgresProbe> {
    return this.connection().probe();
  }
  async isInRecovery(): Promise<boolean> {
    const [row] = await this.connection().query<{ in_recovery: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS in_recovery');
    return row?.in_recovery !== false;
  }
  async restartWalReceiver(pid: number): Promise<void> {
    // pg_terminate_backend refuses it ("not a PostgreSQL backend process"): SIGTERM is what ends
    // a WAL receiver, on this host, where the agent runs as root or as PostgreSQL's own user.
    // The pid comes from this server's pg_stat_wal_receiver a moment ago; its title is checked
    // so that a reused pid is never signalled.
    const title = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!/\bwalreceiver\b/.test(title)) return;
    process.kill(pid, 'SIGTERM');
  }
  walPositions(): Promise<WalPositions> {
    return this.connection().walPositions();
  }
  replicationSample(): Promise<ReplicationSample> {
    return this.connection().replicationSample();
  }
  releaseSyncWaiters(standbys: readonly string[], timeoutMs: number): Promise<void> {
    return this.connection().releaseSyncWaiters(standbys, timeoutMs);
  }
  async checkpoint(timeoutMs: number): Promise<void> {
    if (this.target === null) return;
    const own = new PostgresConnection(this.target, timeoutMs);
    try {
      await own.query('CHECKPOINT');
    } finally {
      await own.close();
    }
  }
  createBootstrapUsers(users: BootstrapUsers): Promise<void> {
    return createBootstrapUsers(this.connection(), users);
  }
  syncSlots(wanted: string[], ignore: readonly SlotMatcher[]): Promise<{ created: string[]; dropped: string[] }> {
    return syncPhysicalSlots(this.connection(), wanted, ignore);
  }
  async closeConnection(): Promise<void> {
    await this.conn?.close();
  }
}
