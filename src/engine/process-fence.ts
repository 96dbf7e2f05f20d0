/**
 * The agent's side of keel-fence (native/keel-fence.c): the fence that holds when the agent is
 * frozen or dead. The agent feeds it the instant by which its authority to acknowledge commits
 * ends; keel-fence, a process of its own, stops the postmaster if that instant passes unfed.
 *
 * One keel-fence guards one data directory, on an abstract unix socket named after it, and
 * outlives the agent that started it: a restarted agent connects to the same one and feeds it
 * again, and an agent killed while leader leaves it armed — which is when it is needed. This
 * client starts it when none answers (detached, in a session of its own, so a signal to the
 * agent's process group does not reach it), restarts it at once if it dies, and sends it the
 * newest deadline after every (re)connection. Its log lines come back into the agent's log.
 *
 * Deadlines cross the process boundary on CLOCK_MONOTONIC (process.hrtime, in nanoseconds), the
 * clock performance.now() counts on: both processes read the same clock, and a wall-clock step
 * moves neither.
 *
 * keel-fence also holds the kernel watchdog for the agent (watchdog-device.ts), since programming
 * its timeout is an ioctl: `ask` sends such a request and returns its answer. keel-fence answers
 * every request with exactly one line, in order, so answers are matched to requests by a queue.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, isIP, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HostPort } from '../config/types.js';
import type { Logger } from '../observability/log.js';
import type { Clock } from './clock.js';
import type { ExternalFence } from './lease-keeper.js';

/** Where the build puts the helper (dist/native/keel-fence, next to dist/src). */
export const KEEL_FENCE_BINARY = fileURLToPath(new URL('../../native/keel-fence', import.meta.url));

/** How long a just-started keel-fence gets to bind its socket. */
const START_WAIT_MS = 2000;
const CONNECT_RETRY_MS = 20;
/** After losing the connection: how soon to reconnect (and restart the helper if it died). */
const RECONNECT_MS = 100;
/** A later deadline is sent once it moved this much past the one keel-fence holds. */
const FEED_STEP_MS = 1000;

/** The abstract socket name of the keel-fence guarding `dataDir` (one per data directory and network namespace). */
export function fenceSocketName(dataDir: string): string {
  return `keel-fence:${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 32)}`;
}

/** PIDs of the keel-fence processes guarding any of `dataDirs` (sandbox teardown, tests). */
export function keelFencePids(dataDirs: string[]): number[] {
  const wanted = new Set(dataDirs.map((d) => resolve(d)));
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    const dataDir = argv[argv.indexOf('--data-dir') + 1];
    if (argv[0]?.endsWith('keel-fence') === true && dataDir !== undefined && wanted.has(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

/** keel-fence's isolation probe (native/isolation-probe.h): what it asks, how often, how long it waits. */
export interface IsolationProbeSettings {
  /** Pause between the end of one round and the next. */
  everyMs: number;
  etcdTimeoutMs: number;
  /** etcd not answering this soon: the members are asked too. */
  quickMs: number;
  peerTimeoutMs: number;
  /** Names are resolved here (keel-fence takes numeric addresses only), once per new setting. */
  etcd: HostPort[];
  members: HostPort[];
  /** The whole HTTP request of a linearizable read (EtcdClient.quorumReadRequest). */
  request: Buffer;
}

/** One probe round keel-fence reports: those where etcd did not answer at once, and the first one after. */
export interface IsolationProbeReport {
  etcdAnswered: boolean;
  peers: number;
  peersAnswered: number;
  /** etcd's HTTP status, 0 when it gave none (no connection, timeout). */
  etcdStatus: number;
  roundMs: number;
}

/** keel-fence's count of postmasters it stopped, from "event fenced <stops> <pid>" or a status answer "<state> <ms> <pid> <stops>". */
export function parseStops(line: string): { stops: number; pid: number } | null {
  const event = /^event fenced (\d+) (\d+)$/.exec(line);
  if (event !== null) return { stops: Number(event[1]), pid: Number(event[2]) };
  const status = /^(?:armed|fired|disarmed) -?\d+ (\d+) (\d+)$/.exec(line);
  return status === null ? null : { stops: Number(status[2]), pid: Number(status[1]) };
}

/** "event probe 0 2 0 0 412" (see isolation-probe.h); null for any other line. */
export function parseProbeEvent(line: string): IsolationProbeReport | null {
  const m = /^event probe ([01]) (\d+) (\d+) (\d+) (\d+)$/.exec(line);
  if (m === null) return null;
  return { etcdAnswered: m[1] === '1', peers: Number(m[2]), peersAnswered: Number(m[3]), etcdStatus: Number(m[4]), roundMs: Number(m[5]) };
}

/** The probe's request line; null when a name does not resolve. */
export async function probeRequestLine(settings: IsolationProbeSettings): Promise<string | null> {
  const etcd = await numericAddresses(settings.etcd);
  const members = await numericAddresses(settings.members);
  if (etcd === null || members === null) return null;
  const list = (addresses: string[]): string => (addresses.length === 0 ? '-' : addresses.join(','));
  const { everyMs, etcdTimeoutMs, quickMs, peerTimeoutMs } = settings;
  return `probe ${everyMs} ${etcdTimeoutMs} ${quickMs} ${peerTimeoutMs} ${list(etcd)} ${list(members)} ${settings.request.toString('hex')}`;
}

/** `ip:port` / `[ipv6]:port` for each, names resolved to their first address (as a connect would use); null when one does not resolve. */
export async function numericAddresses(targets: HostPort[]): Promise<string[] | null> {
  try {
    const addresses = await Promise.all(targets.map(async ({ host, port }) => ({ ip: isIP(host) !== 0 ? host : (await lookup(host)).address, port })));
    return addresses.map(({ ip, port }) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`));
  } catch {
    return null;
  }
}

export interface ProcessFenceOptions {
  dataDir: string;
  clock: Clock;
  log: Logger;
  binary?: string;
}

export class ProcessFence implements ExternalFence {
  private readonly socketName: string;
  private readonly binary: string;
  private socket: Socket | null = null;
  private connecting = false;
  private closed = false;
  /** The newest deadline asked for (Clock.now() ms); null: stood down; undefined: never fed. */
  private wanted: number | null | undefined = undefined;
  private unavailableLogged = false;
  /**
   * Stood down and none answered: a replica's agent feeds "no deadline" every cycle, and looking
   * for a keel-fence that nobody starts cost a connection attempt each time. Cleared by an arm.
   */
  private noneWhileDisarmed = false;
  /** The deadline keel-fence was last sent on this connection (undefined: nothing sent yet). */
  private sentDeadline: number | null | undefined = undefined;
  /** One per request sent on the connection, oldest first: who takes its answer (null: nobody waits). */
  private answers: (((line: string | null) => void) | null)[] = [];
  /** `ask` calls waiting: keel-fence is started for them even when there is nothing to guard. */
  private asking = 0;
  /** The isolation probe asked for (sent again on every new connection), and who hears its rounds. */
  private probeLine: string | null = null;
  private probeReport: ((report: IsolationProbeReport) => void) | null = null;
  /** keel-fence accepted `probeLine` on the current connection. */
  private probeAccepted = false;
  /** Counts `probe` calls: a name lookup that finishes after a newer call is dropped. */
  private probeAsked = 0;
  /** Stops already reported to `stopsListener`, by keel-fence process (a new one counts from 0). */
  private readonly stopsCounted = new Map<number, number>();
  private stopsListener: ((count: number) => void) | null = null;
  private probeStoppedListener: (() => void) | null = null;

  constructor(private readonly options: ProcessFenceOptions) {
    this.socketName = fenceSocketName(options.dataDir);
    this.binary = options.binary ?? KEEL_FENCE_BINARY;
  }

  feed(deadlineMs: number | null): void {
    if (this.closed) return;
    this.wanted = deadlineMs;
    if (deadlineMs !== null) this.noneWhileDisarmed = false;
    if (this.socket === null) {
      if (!this.noneWhileDisarmed) this.ensureConnected();
      return;
    }
    // A deadline later than the one keel-fence holds by less than FEED_STEP_MS is not sent: the
    // leader's keepalives come 5 times a second, and keel-fence firing up to that much before the
    // newest deadline only stops a frozen agent's PostgreSQL a little earlier. An earlier
    // deadline, a disarm or an arm is always sent at once.
    const held = this.sentDeadline;
    if (typeof deadlineMs === 'number' && typeof held === 'number' && deadlineMs >= held && deadlineMs - held < FEED_STEP_MS) return;
    this.sendWanted();
  }

  /**
   * Called with the number of postmasters keel-fence stopped that this agent has not heard of yet:
   * at once when it is connected (a frozen agent reads it once resumed), else on its next
   * connection (an agent restarted after being killed counts the stop that killing caused).
   */
  onStops(listener: (count: number) => void): void {
    this.stopsListener = listener;
  }

  private heardStops(report: { stops: number; pid: number }): void {
    const counted = this.stopsCounted.get(report.pid) ?? 0;
    if (report.stops <= counted) return;
    this.stopsCounted.set(report.pid, report.stops);
    this.stopsListener?.(report.stops - counted);
  }

  /** Whether keel-fence can run here at all (the build put its binary in place). */
  present(): boolean {
    return existsSync(this.binary);
  }

  /**
   * One request to keel-fence (started if none runs) and its one-line answer; null when it could
   * not be reached, or did not answer, within `timeoutMs`.
   */
  async ask(request: string, timeoutMs: number): Promise<string | null> {
    if (this.closed) return null;
    const until = Date.now() + timeoutMs;
    this.asking++;
    try {
      this.noneWhileDisarmed = false;
      this.ensureConnected();
      while (this.socket === null && Date.now() < until && !this.closed) {
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
        this.ensureConnected();
      }
    } finally {
      this.asking--;
    }
    if (this.socket === null || this.closed) return null;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(null), Math.max(0, until - Date.now()));
      const settle = (line: string | null) => {
        clearTimeout(timer);
        const at = this.answers.indexOf(settle);
        if (at >= 0) this.answers[at] = null; // a late answer still takes its place in the queue
        resolve(line);
      };
      this.send(request, settle);
    });
  }

  /**
   * Has keel-fence run the isolation probe with these settings (null: stop it), reporting its
   * rounds to `onReport`. It is sent again whenever keel-fence is reconnected or restarted.
   */
  probe(settings: IsolationProbeSettings | null, onReport: (report: IsolationProbeReport) => void): void {
    this.probeReport = onReport;
    const asked = ++this.probeAsked;
    if (settings === null) {
      this.setProbeLine(null);
      return;
    }
    void probeRequestLine(settings).then((line) => {
      if (asked !== this.probeAsked) return; // asked again meanwhile
      if (line !== null) {
        this.setProbeLine(line);
        return;
      }
      this.options.log.warning('an etcd or member address of the isolation probe does not resolve: the agent probes itself');
      // Until now the probe aimed before ran and the agent relied on it: tell it that it stopped.
      const wasRunning = this.probeRunning();
      this.setProbeLine(null);
      if (wasRunning) this.probeStoppedListener?.();
    });
  }

  private setProbeLine(line: string | null): void {
    if (line === this.probeLine) return;
    const wasOn = this.probeLine !== null;
    this.probeLine = line;
    this.probeAccepted = false;
    if (line !== null) this.sendProbe();
    else if (wasOn) this.send('probe-stop', null);
  }

  /** Whether keel-fence runs the probe last asked for, on the current connection. */
  probeRunning(): boolean {
    return this.probeLine !== null && this.probeAccepted && this.socket !== null;
  }

  /**
   * Called when the probe stops running without being asked to (the connection to keel-fence
   * lost, the probe refused, a new aim whose addresses do not resolve): the agent, which sets no
   * timer while keel-fence probes, then probes itself at once until keel-fence runs a probe again.
   */
  onProbeStopped(listener: () => void): void {
    this.probeStoppedListener = listener;
  }

  /** Stands the fence down and lets it exit (clean agent stop, after PostgreSQL is down). */
  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    if (socket === null) return;
    await new Promise<void>((done) => {
      const timer = setTimeout(done, 1000);
      socket.once('close', () => {
        clearTimeout(timer);
        done();
      });
      socket.end('quit\n');
    });
    this.socket = null;
  }

  private request(): string {
    if (this.wanted === null || this.wanted === undefined) return 'disarm';
    const leftNs = BigInt(Math.round((this.wanted - this.options.clock.now()) * 1e6));
    return `arm ${process.hrtime.bigint() + leftNs}`;
  }

  private sendWanted(): void {
    this.sentDeadline = this.wanted;
    this.send(this.request(), null);
  }

  private sendProbe(): void {
    const line = this.probeLine;
    if (line === null || this.socket === null) return;
    this.send(line, (answer) => {
      if (line !== this.probeLine) return; // replaced meanwhile
      this.probeAccepted = answer === 'probe on';
      if (this.probeAccepted) return;
      if (answer !== null) this.options.log.warning('keel-fence refused the isolation probe: the agent probes itself');
      this.probeStoppedListener?.();
    });
  }

  private send(line: string, answer: ((line: string | null) => void) | null): void {
    if (this.socket === null) {
      answer?.(null);
      return;
    }
    this.answers.push(answer);
    this.socket.write(`${line}\n`);
  }

  private ensureConnected(): void {
    if (this.connecting || this.socket !== null || this.closed) return;
    // Nothing to guard and none running: do not start one just to stand it down.
    if (this.wanted === undefined && this.asking === 0) return;
    this.connecting = true;
    void this.connectOrStart().finally(() => {
      this.connecting = false;
    });
  }

  private async connectOrStart(): Promise<void> {
    let socket = await this.tryConnect();
    if (socket === null) {
      if (this.wanted === null && this.asking === 0) {
        this.noneWhileDisarmed = true; // stood down and none runs: nothing to do until an arm
        return;
      }
      if (!existsSync(this.binary)) {
        if (!this.unavailableLogged)
          this.options.log.error(`keel-fence is missing (${this.binary}): a frozen or killed agent cannot stop its PostgreSQL; rebuild keel (npm run build)`);
        this.unavailableLogged = true;
        return;
      }
      this.start();
      const until = Date.now() + START_WAIT_MS;
      while (socket === null && Date.now() < until && !this.closed) {
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
        socket = await this.tryConnect();
      }
      if (socket === null) {
        this.options.log.error('keel-fence did not start; retrying');
        this.retrySoon();
        return;
      }
    }
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.adopt(socket);
  }

  private start(): void {
    const child = spawn(this.binary, ['--socket', this.socketName, '--data-dir', resolve(this.options.dataDir)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: '/',
    });
    child.on('error', (error) => this.options.log.error(`keel-fence: ${error.message}`));
    if (child.stderr !== null) {
      createInterface({ input: child.stderr }).on('line', (raw: string) => {
        const line = raw.trim();
        if (line.length === 0) return;
        // Stopping a postmaster is what an operator must see; the rest is routine.
        if (/stopping the postmaster|still runs|killing/.test(line)) this.options.log.error(`keel-fence: ${line}`);
        else this.options.log.info(`keel-fence: ${line}`);
      });
    }
    child.unref();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private tryConnect(): Promise<Socket | null> {
    return new Promise((done) => {
      const socket = connect({ path: `\0${this.socketName}` });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        done(socket);
      });
      socket.once('error', () => done(null));
    });
  }

  private adopt(socket: Socket): void {
    this.socket = socket;
    this.unavailableLogged = false;
    socket.unref();
    this.answers = [];
    this.probeAccepted = false;
    createInterface({ input: socket }).on('line', (line: string) => {
      if (line.startsWith('event ')) {
        // Not an answer: a probe round or a stop, sent unasked (it takes no place in the queue).
        const stopped = parseStops(line);
        if (stopped !== null) {
          this.heardStops(stopped);
          return;
        }
        const report = parseProbeEvent(line);
        if (report !== null && this.socket === socket && this.probeAccepted) this.probeReport?.(report);
        return;
      }
      if (line.startsWith('error') || line.startsWith('fired')) this.options.log.error(`keel-fence answered: ${line}`);
      if (this.socket === socket) this.answers.shift()?.(line);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket) return;
      const probing = this.probeAccepted;
      this.socket = null;
      this.probeAccepted = false;
      for (const answer of this.answers.splice(0)) answer?.(null);
      if (this.closed) return;
      if (probing) this.probeStoppedListener?.();
      if (this.wanted !== null && this.wanted !== undefined) this.options.log.warning('lost keel-fence (killed?): starting it again');
      this.retrySoon();
    });
    this.sendWanted();
    this.sendProbe();
    // Stops it made while nobody was connected (this agent killed, or not started yet).
    this.send('status', (answer) => {
      const stopped = answer === null ? null : parseStops(answer);
      if (stopped !== null) this.heardStops(stopped);
    });
  }

  private retrySoon(): void {
    setTimeout(() => this.ensureConnected(), RECONNECT_MS).unref();
  }
}
