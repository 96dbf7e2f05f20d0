/**
 * The writer of `keel demo --failover`: what an application sees through HAProxy's write port.
 * One connection at a time inserts unique ids; every COMMIT whose success reached the client is
 * an acknowledgement, recorded with the server port that acknowledged it; any failure drops the
 * connection and the next insert reconnects (through HAProxy, to whoever it routes to then).
 *
 * A statement past its deadline is abandoned by closing the connection, never cancelled (a
 * cancelled synchronous-commit wait is reported as committed: an acknowledgement never promised).
 * `analyse` is pure: acknowledgements and the ids stored in, the window and the losses out.
 */
import pg from 'pg';

const CONNECT_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 2000;
const RETRY_PAUSE_MS = 50;
/** Limits on what is kept (a demo left running must not grow without bound). */
const ACKS_MAX = 1_000_000;
const ERRORS_MAX = 10_000;

export interface DemoAck {
  id: number;
  /** PostgreSQL port of the server that acknowledged (inet_server_port()). */
  serverPort: number;
  /** When the acknowledgement arrived (performance.now() ms). */
  atMs: number;
}

export interface DemoWriterTarget {
  host: string;
  port: number;
  password: string;
}

export const DEMO_TABLE = 'keel_demo_writes';

function newClient(target: DemoWriterTarget): pg.Client {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: 'postgres',
    password: target.password,
    database: 'postgres',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  return client;
}

export class DemoWriter {
  readonly acks: DemoAck[] = [];
  readonly errors: { atMs: number; message: string }[] = [];
  private running = false;
  private loop: Promise<void> | null = null;
  private nextId = 1;

  constructor(private readonly target: DemoWriterTarget) {}

  /** Creates the table (through the write port) and starts writing in the background. */
  async start(): Promise<void> {
    const client = newClient(this.target);
    await client.connect();
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS ${DEMO_TABLE} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
      await client.query(`TRUNCATE ${DEMO_TABLE}`);
    } finally {
      await client.end();
    }
    this.running = true;
    this.loop = this.write();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async write(): Promise<void> {
    let client: pg.Client | null = null;
    while (this.running) {
      try {
        if (client === null) {
          client = newClient(this.target);
          await client.connect();
        }
        const id = this.nextId++;
        const result = await client.query<{ port: number }>(`INSERT INTO ${DEMO_TABLE} (id) VALUES ($1) RETURNING inet_server_port() AS port`, [id]);
        if (this.acks.length < ACKS_MAX) this.acks.push({ id, serverPort: Number(result.rows[0]?.port ?? 0), atMs: performance.now() });
      } catch (error) {
        if (this.errors.length < ERRORS_MAX)
          this.errors.push({ atMs: performance.now(), message: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '' });
        const dead = client;
        client = null;
        dead?.end().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      }
    }
    await client?.end().catch(() => undefined);
  }
}

/** Reads back every id stored (through the write port: from the leader). */
export async function storedIds(target: DemoWriterTarget): Promise<Set<number>> {
  const client = newClient(target);
  await client.connect();
  try {
    const rows = (await client.query<{ id: string }>(`SELECT id::text AS id FROM ${DEMO_TABLE}`)).rows;
    return new Set(rows.map((r) => Number(r.id)));
  } finally {
    await client.end();
  }
}

export interface FailoverWriteReport {
  acknowledged: number;
  /** The old leader's last acknowledgement and the new leader's first (ms, performance.now()); null when none. */
  lastOldAckMs: number | null;
  firstNewAckMs: number | null;
  /** The gap the application saw: from the old leader's last acknowledgement to the new leader's first (ms). */
  gapMs: number | null;
  /** From the fault to the new leader's first acknowledgement (ms). */
  fromFaultMs: number | null;
  /** Acknowledged ids that the new leader does not have. */
  lost: number[];
}

/** What the writer saw around a fault at `faultAtMs` that moved the writes from `oldPort` to `newPort` (pure). */
export function analyseFailoverWrites(
  acks: readonly DemoAck[],
  faultAtMs: number,
  ports: { old: number; new: number },
  stored: ReadonlySet<number>,
): FailoverWriteReport {
  const lastOld = acks.filter((a) => a.serverPort === ports.old).at(-1)?.atMs ?? null;
  const firstNew = acks.find((a) => a.serverPort === ports.new && a.atMs > faultAtMs)?.atMs ?? null;
  return {
    acknowledged: acks.length,
    lastOldAckMs: lastOld,
    firstNewAckMs: firstNew,
    gapMs: firstNew === null || lastOld === null ? null : firstNew - lastOld,
    fromFaultMs: firstNew === null ? null : firstNew - faultAtMs,
    lost: acks.filter((a) => !stored.has(a.id)).map((a) => a.id),
  };
}
