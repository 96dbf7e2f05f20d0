/**
 * The write-loss checker (tests, chaos runs, benchmarks): writers that insert unique ids and
 * record every acknowledged commit, and a verifier that reads the table back from the leader and
 * reports what a client was promised but did not get.
 *
 *  - pinned writers, one per node: every node that acknowledges is seen, so two primaries
 *    acknowledging at once show up as overlapping acknowledgement intervals;
 *  - a multi-host writer: what an application sees through a libpq multi-host string with
 *    target_session_attrs=read-write (pg's Client connects to one host only, so the host walk is
 *    done here: hosts in order, the first whose `SHOW transaction_read_only` says off).
 *
 * An acknowledgement is a COMMIT whose success reached the client before the statement deadline.
 * A statement past its deadline (a commit blocked on a fenced primary or waiting for a
 * synchronous standby) is abandoned by closing the connection, never by a cancel: cancelling a
 * synchronous-replication wait makes PostgreSQL report the commit as successful (with a
 * warning), which would be counted as an acknowledgement that was never promised.
 *
 * The analysis (analyseWriteLoss) is pure: hand-made lists in, a JSON-serialisable report out.
 */
import pg from 'pg';

/** CLOCK_MONOTONIC in ms, the clock bench/support.ts's monoMs and the Python writer use. */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Ack {
  id: number;
  /** The writer that got the acknowledgement ("pinned:node1", "multi"). */
  writer: string;
  /** The node the connection went to (the target's name). */
  node: string;
  /** host:port the client connected to. */
  address: string;
  /** The server's own inet_server_port(), returned by the INSERT itself. */
  serverPort: number | null;
  /** When the statement was sent and when its acknowledgement arrived (monotonic ms). */
  sentMs: number;
  atMs: number;
}

export interface WriteError {
  writer: string;
  /** The node tried, or null when the multi-host walk found no read-write host. */
  node: string | null;
  atMs: number;
  /** First line of the error message. */
  message: string;
}

export interface WriteTarget {
  name: string;
  host: string;
  port: number;
}

export interface WriteLossOptions {
  password: string;
  user?: string;
  database?: string;
  /** Table name (a plain identifier); created by prepare(). */
  table?: string;
  connectTimeoutMs?: number;
  /** Deadline of each statement; past it the statement is abandoned (not an acknowledgement). */
  statementTimeoutMs?: number;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]*$/;
/** Errors kept per run: a writer failing for minutes must not grow memory without bound. */
const ERRORS_MAX = 10_000;
/** Wait for a client's orderly close before destroying its socket. */
const CLOSE_GRACE_MS = 1000;

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] || (error instanceof Error ? error.name : 'error');
}

/** PostgreSQL's "cannot execute INSERT in a read-only transaction" (SQLSTATE 25006). */
function isReadOnlyRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '25006';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Closes a client for sure: end() may wait on a socket the server never answers on. */
async function closeClient(client: pg.Client): Promise<void> {
  await Promise.race([client.end().catch(() => undefined), sleep(CLOSE_GRACE_MS)]);
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
}

/**
 * One checking run: shared id counter (ids are unique across all its writers), the writers, and
 * the acknowledgements and errors they recorded.
 */
export class WriteLossRun {
  readonly acks: Ack[] = [];
  readonly errors: WriteError[] = [];
  readonly table: string;
  private nextId = 1;
  private running = false;
  private readonly writers: Array<{ name: string; loop: (periodMs: number) => Promise<void> }> = [];
  private loops: Promise<void>[] = [];
  private readonly open = new Set<pg.Client>();

  constructor(private readonly options: WriteLossOptions) {
    this.table = options.table ?? 'write_loss';
    if (!TABLE_NAME.test(this.table)) throw new Error(`write-loss table name ${JSON.stringify(this.table)} is not a plain identifier`);
  }

  /** Creates the table on the primary (before start()). */
  async prepare(primary: WriteTarget): Promise<void> {
    const client = this.client(primary, 'prepare');
    try {
      await client.connect();
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.table} (id bigint PRIMARY KEY, writer text NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
    } finally {
      await this.release(client);
    }
  }

  /** One writer per target, each connected to that target only. */
  addPinned(targets: WriteTarget[]): this {
    for (const target of targets) {
      const name = `pinned:${target.name}`;
      this.writers.push({ name, loop: (periodMs) => this.pinnedLoop(name, target, periodMs) });
    }
    return this;
  }

  /** A writer going through the hosts in order, as libpq with target_session_attrs=read-write. */
  addMultiHost(targets: WriteTarget[], name = 'multi'): this {
    if (targets.length === 0) throw new Error('a multi-host writer needs at least one host');
    this.writers.push({ name, loop: (periodMs) => this.multiHostLoop(name, targets, periodMs) });
    return this;
  }

  start(periodMs = 20): void {
    if (this.running) throw new Error('write-loss run already started');
    if (this.writers.length === 0) throw new Error('write-loss run has no writers');
    this.running = true;
    this.loops = this.writers.map((w) => w.loop(periodMs));
  }

  /** Stops every writer and closes every client (a statement under way ends at its deadline). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all([...this.open].map((c) => this.release(c)));
  }

  /** Reads the table back from the leader and analyses it against the acknowledgements. */
  async verify(findLeader: () => Promise<{ host: string; port: number }>, analysis: AnalysisOptions = {}, timeoutMs = 60_000): Promise<WriteLossReport> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown = null;
    while (Date.now() < deadline) {
      let client: pg.Client | null = null;
      try {
        const leader = await findLeader();
        client = this.client({ name: 'leader', ...leader }, 'verify');
        await client.connect();
        const [state] = (await client.query<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery')).rows;
        if (state?.in_recovery !== false) throw new Error(`${leader.host}:${leader.port} is in recovery, not the leader`);
        const rows = (await client.query<{ id: string }>(`SELECT id FROM ${this.table}`)).rows;
        return analyseWriteLoss(
          this.acks,
          rows.map((r) => Number(r.id)),
          { ...analysis, readFrom: `${leader.host}:${leader.port}`, table: this.table },
          this.errors,
        );
      } catch (error) {
        lastError = error;
      } finally {
        if (client !== null) await this.release(client);
      }
      await sleep(500);
    }
    throw new Error(`write-loss verification: no readable leader within ${timeoutMs} ms: ${firstLine(lastError)}`);
  }

  /** Clients not yet closed (0 after stop(): nothing leaks). */
  get openClients(): number {
    return this.open.size;
  }

  private client(target: WriteTarget, role: string): pg.Client {
    const client = new pg.Client({
      // the writers' sessions can be told apart in pg_stat_activity
      application_name: `write-loss:${role}`,
      host: target.host,
      port: target.port,
      user: this.options.user ?? 'postgres',
      password: this.options.password,
      database: this.options.database ?? 'postgres',
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 1000,
      // client-side deadline only (see the module comment: no server-side cancel)
      query_timeout: this.options.statementTimeoutMs ?? 1500,
    });
    client.on('error', () => undefined);
    this.open.add(client);
    return client;
  }

  private async release(client: pg.Client): Promise<void> {
    this.open.delete(client);
    await closeClient(client);
  }

  private recordError(writer: string, node: string | null, error: unknown): void {
    if (this.errors.length < ERRORS_MAX) this.errors.push({ writer, node, atMs: monoMs(), message: firstLine(error) });
  }

  /** Inserts one fresh id; an acknowledgement is recorded only when the COMMIT came back. */
  private async insertOne(writer: string, target: WriteTarget, client: pg.Client): Promise<void> {
    const id = this.nextId++;
    const sentMs = monoMs();
    const result = await client.query<{ port: number | null }>(`INSERT INTO ${this.table} (id, writer) VALUES ($1, $2) RETURNING inet_server_port() AS port`, [
      id,
      writer,
    ]);
    this.acks.push({
      id,
      writer,
      node: target.name,
      address: `${target.host}:${target.port}`,
      serverPort: result.rows[0]?.port ?? null,
      sentMs,
      atMs: monoMs(),
    });
  }

  private async pinnedLoop(writer: string, target: WriteTarget, periodMs: number): Promise<void> {
    let client: pg.Client | null = null;
    while (this.running) {
      try {
        if (client === null) {
          client = this.client(target, writer);
          await client.connect();
        }
        await this.insertOne(writer, target, client);
      } catch (error) {
        this.recordError(writer, target.name, error);
        // A replica's refusal leaves a healthy session, and a session kept open on a replica
        // can write the moment it is promoted: the first acknowledgement of a new primary is
        // seen at once (no reconnection churn on replicas either).
        if (client !== null && !isReadOnlyRefusal(error)) {
          await this.release(client);
          client = null;
        }
      }
      await sleep(periodMs);
    }
    if (client !== null) await this.release(client);
  }

  /** libpq's walk: each host in order; a read-only session is closed and the next host tried. */
  private async connectReadWrite(writer: string, targets: WriteTarget[]): Promise<{ client: pg.Client; target: WriteTarget } | null> {
    for (const target of targets) {
      if (!this.running) return null;
      const client = this.client(target, writer);
      try {
        await client.connect();
        const [row] = (await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only')).rows;
        if (row?.transaction_read_only === 'off') return { client, target };
        this.recordError(writer, target.name, new Error('session is read-only'));
      } catch (error) {
        this.recordError(writer, target.name, error);
      }
      await this.release(client);
    }
    this.recordError(writer, null, new Error('no read-write host among the targets'));
    return null;
  }

  private async multiHostLoop(writer: string, targets: WriteTarget[], periodMs: number): Promise<void> {
    let session: { client: pg.Client; target: WriteTarget } | null = null;
    while (this.running) {
      try {
        if (session === null) session = await this.connectReadWrite(writer, targets);
        if (session !== null) await this.insertOne(writer, session.target, session.client);
      } catch (error) {
        this.recordError(writer, session?.target.name ?? null, error);
        if (session !== null) await this.release(session.client);
        session = null;
      }
      await sleep(periodMs);
    }
    if (session !== null) await this.release(session.client);
  }
}

// ---------------------------------------------------------------------------------------------
// Analysis (pure)

export interface AnalysisOptions {
  /** A gap between consecutive acknowledgements longer than this is an unavailability window. */
  windowThresholdMs?: number;
  /**
   * A node's acknowledgements separated by more than this start a new tenure; tenures of
   * different nodes that overlap in time are two primaries acknowledging at once. Must be well
   * above the writers' period and well below a failover's length.
   */
  tenureGapMs?: number;
  readFrom?: string;
  table?: string;
}

export interface Tenure {
  node: string;
  firstMs: number;
  lastMs: number;
  count: number;
}

export interface UnavailabilityWindow {
  startMs: number;
  endMs: number;
  lengthMs: number;
  /** Node of the last acknowledgement before the gap and of the first after it. */
  before: string;
  after: string;
}

export interface WriteLossReport {
  table: string | null;
  readFrom: string | null;
  acknowledged: number;
  present: number;
  ackedByNode: Record<string, number>;
  ackedByWriter: Record<string, number>;
  /** Acknowledged but absent, with who acknowledged them. */
  lost: Array<{ id: number; node: string; writer: string; atMs: number }>;
  /** Ids acknowledged more than once (by two writers, or twice by one): a bug in the writer. */
  doubleAcked: Array<{ id: number; writers: string[] }>;
  /** Present but never acknowledged: commits whose acknowledgement was lost (informational). */
  unacknowledgedPresent: number[];
  tenures: Tenure[];
  /** Two nodes acknowledging during overlapping tenures. */
  overlappingPrimaries: Array<{ a: Tenure; b: Tenure }>;
  windowThresholdMs: number;
  windows: UnavailabilityWindow[];
  longestGap: UnavailabilityWindow | null;
  errors: { total: number; byMessage: Array<{ message: string; count: number }> };
}

/** A node's acknowledgements cut into tenures wherever it was silent longer than tenureGapMs. */
export function tenures(acks: Ack[], tenureGapMs: number): Tenure[] {
  const byNode = new Map<string, number[]>();
  for (const ack of acks) {
    const times = byNode.get(ack.node) ?? [];
    times.push(ack.atMs);
    byNode.set(ack.node, times);
  }
  const result: Tenure[] = [];
  for (const [node, times] of byNode) {
    times.sort((a, b) => a - b);
    let current: Tenure | null = null;
    for (const t of times) {
      if (current !== null && t - current.lastMs <= tenureGapMs) {
        current.lastMs = t;
        current.count += 1;
      } else {
        current = { node, firstMs: t, lastMs: t, count: 1 };
        result.push(current);
      }
    }
  }
  return result.sort((a, b) => a.firstMs - b.firstMs || a.node.localeCompare(b.node));
}

/** Pairs of tenures of different nodes whose [firstMs, lastMs] intervals intersect. */
export function overlappingTenures(list: Tenure[]): Array<{ a: Tenure; b: Tenure }> {
  const sorted = [...list].sort((a, b) => a.firstMs - b.firstMs);
  const overlaps: Array<{ a: Tenure; b: Tenure }> = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j]!;
      if (b.firstMs > a.lastMs) break;
      if (b.node !== a.node) overlaps.push({ a, b });
    }
  }
  return overlaps;
}

/** Gaps between consecutive acknowledgements (all writers together) and the longest one. */
export function unavailability(acks: Ack[], thresholdMs: number): { windows: UnavailabilityWindow[]; longest: UnavailabilityWindow | null } {
  const sorted = [...acks].sort((a, b) => a.atMs - b.atMs);
  const windows: UnavailabilityWindow[] = [];
  let longest: UnavailabilityWindow | null = null;
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const next = sorted[i]!;
    const gap = { startMs: prev.atMs, endMs: next.atMs, lengthMs: next.atMs - prev.atMs, before: prev.node, after: next.node };
    if (longest === null || gap.lengthMs > longest.lengthMs) longest = gap;
    if (gap.lengthMs > thresholdMs) windows.push(gap);
  }
  return { windows, longest };
}

export function analyseWriteLoss(acks: Ack[], presentIds: number[], options: AnalysisOptions = {}, errors: WriteError[] = []): WriteLossReport {
  const windowThresholdMs = options.windowThresholdMs ?? 1000;
  const tenureGapMs = options.tenureGapMs ?? 1000;
  const present = new Set(presentIds);
  const ackedBy = new Map<number, Ack[]>();
  const ackedByNode: Record<string, number> = {};
  const ackedByWriter: Record<string, number> = {};
  for (const ack of acks) {
    const list = ackedBy.get(ack.id) ?? [];
    list.push(ack);
    ackedBy.set(ack.id, list);
    ackedByNode[ack.node] = (ackedByNode[ack.node] ?? 0) + 1;
    ackedByWriter[ack.writer] = (ackedByWriter[ack.writer] ?? 0) + 1;
  }
  const lost = [...ackedBy.entries()]
    .filter(([id]) => !present.has(id))
    .map(([id, list]) => ({ id, node: list[0]!.node, writer: list[0]!.writer, atMs: list[0]!.atMs }))
    .sort((a, b) => a.id - b.id);
  const doubleAcked = [...ackedBy.entries()]
    .filter(([, list]) => list.length > 1)
    .map(([id, list]) => ({ id, writers: list.map((a) => a.writer) }))
    .sort((a, b) => a.id - b.id);
  const unacknowledgedPresent = [...present].filter((id) => !ackedBy.has(id)).sort((a, b) => a - b);
  const tenureList = tenures(acks, tenureGapMs);
  const { windows, longest } = unavailability(acks, windowThresholdMs);
  const byMessage = new Map<string, number>();
  for (const e of errors) byMessage.set(e.message, (byMessage.get(e.message) ?? 0) + 1);
  return {
    table: options.table ?? null,
    readFrom: options.readFrom ?? null,
    acknowledged: ackedBy.size,
    present: present.size,
    ackedByNode,
    ackedByWriter,
    lost,
    doubleAcked,
    unacknowledgedPresent,
    tenures: tenureList,
    overlappingPrimaries: overlappingTenures(tenureList),
    windowThresholdMs,
    windows,
    longestGap: longest,
    errors: {
      total: errors.length,
      byMessage: [...byMessage.entries()].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count),
    },
  };
}

const ms = (v: number): string => `${v.toFixed(0)} ms`;

/** A short human rendering of a report; times are relative to the first tenure's start. */
export function formatReport(report: WriteLossReport): string {
  const origin = report.tenures[0]?.firstMs ?? 0;
  const at = (v: number): string => `+${((v - origin) / 1000).toFixed(2)}s`;
  const ids = (list: number[]): string => (list.length <= 10 ? list.join(', ') : `${list.slice(0, 10).join(', ')}, ... (${list.length})`);
  const lines = [
    `write-loss check of ${report.table ?? '?'} read from ${report.readFrom ?? '?'}`,
    `  acknowledged      ${report.acknowledged}  (${Object.entries(report.ackedByNode)
      .map(([n, c]) => `${n}: ${c}`)
      .join(', ')})`,
    `  present           ${report.present}`,
    `  lost              ${report.lost.length}${report.lost.length > 0 ? `  [${ids(report.lost.map((l) => l.id))}]` : ''}`,
    `  acked twice       ${report.doubleAcked.length}${report.doubleAcked.length > 0 ? `  [${ids(report.doubleAcked.map((d) => d.id))}]` : ''}`,
    `  present, no ack   ${report.unacknowledgedPresent.length}`,
    `  two primaries     ${report.overlappingPrimaries.length}`,
    ...report.overlappingPrimaries.map(
      ({ a, b }) => `    ${a.node} ${at(a.firstMs)}..${at(a.lastMs)} (${a.count}) overlaps ${b.node} ${at(b.firstMs)}..${at(b.lastMs)} (${b.count})`,
    ),
    `  tenures           ${report.tenures.map((t) => `${t.node} ${at(t.firstMs)}..${at(t.lastMs)}`).join(' | ')}`,
    `  unavailable > ${ms(report.windowThresholdMs)}: ${report.windows.length}`,
    ...report.windows.map((w) => `    ${at(w.startMs)} .. ${at(w.endMs)}  ${ms(w.lengthMs)}  ${w.before} -> ${w.after}`),
    `  longest gap       ${report.longestGap === null ? '-' : ms(report.longestGap.lengthMs)}`,
    `  errors            ${report.errors.total}${report.errors.byMessage.length > 0 ? `  (most: ${report.errors.byMessage[0]!.message} x${report.errors.byMessage[0]!.count})` : ''}`,
  ];
  return lines.join('\n');
}
