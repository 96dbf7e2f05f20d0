/**
 * Free TCP ports for local clusters (tests, `keel sandbox`, benchmarks).
 *
 * A port handed out here is bound by its server later, often seconds later (an agent started
 * after etcd), and two things can take it in that window:
 *  - an outgoing connection of any process: the kernel gives those a source port from
 *    ip_local_port_range, the very range a bind to port 0 draws from (a full test run saw an
 *    agent's REST port taken: EADDRINUSE, the cluster never came up);
 *  - another process asking for free ports at the same time (the test runner runs two files at
 *    once).
 * So ports are drawn at random below ip_local_port_range, where no outgoing connection lands,
 * and each is reserved across processes by a file created exclusively in a shared directory
 * (its content: the owner's pid; a dead owner's file is taken over), then checked free by a bind.
 * A process's reservations are removed when it exits; one that dies leaves files that the next
 * process finding them takes over. Where the range below the ephemeral ports is too small, the
 * kernel's choice (bind to port 0) is used as before.
 */
import { createServer, type Server } from 'node:net';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from './process-alive.js';

/** Upper bound on probe binds per requested port before giving up. */
const MAX_PROBES_PER_PORT = 50;
/** The lowest port drawn (below: well-known and registered services' usual homes). */
const LOWEST_PORT = 15000;
/** Fewer candidates than this below the ephemeral range: use the kernel's choice instead. */
const MIN_RANGE = 2000;
/** Where reservations live: one file per port, shared by every process of this machine. */
export const RESERVATIONS = join(tmpdir(), 'keel-ports');

/** Ports this process has already handed out (never handed out twice). */
const handedOut = new Set<number>();
/** Reservation files this process created (removed at exit). */
const reservedHere: string[] = [];
let exitHookInstalled = false;

function listen(host: string, port: number): Promise<{ server: Server; port: number } | null> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (port !== 0 && (error.code === 'EADDRINUSE' || error.code === 'EACCES')) resolve(null);
      else reject(error);
    });
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`cannot read the port bound on ${host}`));
        return;
      }
      resolve({ server, port: address.port });
    });
  });
}

function closeAll(servers: Server[]): Promise<void> {
  return Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => undefined);
}

/** The first port of ip_local_port_range (where outgoing connections' source ports start). */
export function ephemeralLow(rangeText?: string): number {
  let text = rangeText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    } catch {
      return 32768; // Linux's default
    }
  }
  const low = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(low) && low > 0 ? low : 32768;
}

/** Creates the port's reservation file for this process; false when another live process holds it. */
export function reservePort(port: number): boolean {
  const file = join(RESERVATIONS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      reservedHere.push(file);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.once('exit', () => {
          for (const path of reservedHere) rmSync(path, { force: true });
        });
      }
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && (owner === process.pid || isAlive(owner))) return false;
      rmSync(file, { force: true }); // its owner is gone: take it over
    }
  }
  return false;
}

/** `n` distinct free TCP ports on `host`. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`freePorts: n must be a non-negative integer, got ${n}`);
  const high = ephemeralLow() - 1;
  const drawn = high - LOWEST_PORT + 1 >= MIN_RANGE;
  if (drawn && mkdirSync(RESERVATIONS, { recursive: true }) !== undefined) chmodSync(RESERVATIONS, 0o1777); // any user's processes share it
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    let probes = 0;
    while (ports.length < n) {
      if (probes++ > MAX_PROBES_PER_PORT * (n + 1)) throw new Error(`cannot find ${n} free ports on ${host}`);
      const candidate = drawn ? LOWEST_PORT + Math.floor(Math.random() * (high - LOWEST_PORT + 1)) : 0;
      if (handedOut.has(candidate) || ports.includes(candidate)) continue;
      if (drawn && !reservePort(candidate)) continue;
      const bound = await listen(host, candidate);
      if (bound === null) continue; // in use (its reservation stays: nobody gets it from us either)
      held.push(bound.server);
      if (handedOut.has(bound.port)) continue;
      ports.push(bound.port);
    }
  } finally {
    await closeAll(held);
  }
  for (const port of ports) handedOut.add(port);
  return ports;
}

/** One free TCP port on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  if (port === undefined) throw new Error(`cannot find a free port on ${host}`);
  return port;
}
