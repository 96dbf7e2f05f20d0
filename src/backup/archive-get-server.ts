/**
 * The archive-get server: restore_command's fast path (native/keel-wal-get.c is its client).
 *
 * A recovery runs restore_command once per WAL file, one after the other. Served by a process
 * that is already running, each call costs the fetch itself instead of a Node.js start-up
 * (75 ms) plus loading the backup modules. The first `archive-get` of a recovery finds no server,
 * serves its own request and starts one (detached, `archive-get:serve`); the calls after it go to
 * the server. The server keeps nothing between requests that could go stale: each request reads
 * the archive afresh (a history file that was missing may exist now), and the repository is
 * opened again whenever its stanza.json changes (stanza-upgrade).
 *
 * A request whose client has gone (PostgreSQL stopped, or killed restore_command) is not finished:
 * its file is written under a name of its own and renamed into place only while the client still
 * waits, and requests for one destination run one after the other, so a late request can never
 * put another WAL file where PostgreSQL reads the one it asked for next.
 *
 * It exits after `idleMs` without a request (`unusedMs` before its first, not counted while the
 * process that started it ahead, a restore, still runs), once every PostgreSQL it served has
 * stopped, on SIGTERM, or when its socket is removed or taken by another server; it gives way to
 * a server already listening on its socket.
 *
 * Requests (one per connection): "get\t<WAL name>\t<absolute destination>\t<caller's working
 * directory>\n". Reply: "found\n" or "missing\n", then the log lines to print, then the server
 * closes the connection. A failure closes it with no status line: the client then runs the plain
 * archive-get, which reports the error itself with its exit code.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { lstat, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { isAlive } from './repository.js';
import { livePostmasterPid } from '../postgres/instance.js';

/** How long an idle server stays: a replica that lost streaming asks every 5 s (wal_retrieve_retry_interval). */
export const IDLE_MS = 30_000;
/** How long a server started ahead (by a restore) waits for its first request once that restore has ended. */
export const UNUSED_MS = 15_000;
/** How long a client may take to send its request line. */
const REQUEST_MS = 10_000;
/** How long one request may take before the server stops taking new ones (the client gives up at 120 s). */
const STUCK_MS = 60_000;

export interface WalRequest {
  name: string;
  destination: string;
  cwd: string;
}

/**
 * Fetches one WAL file; resolves to whether the archive had it and the log lines to print.
 * `wanted()` turns false once the client has gone: the file must then not be put in place.
 * Throws OutdatedServer when the server's settings are no longer the ones the command line
 * resolves to.
 */
export type ServeWal = (request: WalRequest, wanted: () => boolean) => Promise<{ found: boolean; log: string }>;

/**
 * The settings changed under the server (pgbackrest.conf edited): the request goes to the plain
 * archive-get, which reads them afresh, and the server exits (the next call starts a new one).
 */
export class OutdatedServer extends Error {}

/** A WAL segment, a partial segment, a history file or a backup label: what restore_command is asked for. */
const WAL_NAME = /^([0-9A-F]{24}(\.partial)?|[0-9A-F]{8}\.history|[0-9A-F]{24}\.[0-9A-F]{8}\.backup)$/;

/** Parses a request line; null when it is not one (the connection is closed without a status). */
export function parseWalRequest(line: string): WalRequest | null {
  const fields = line.split('\t');
  if (fields.length !== 4 || fields[0] !== 'get') return null;
  const [, name, destination, cwd] = fields as [string, string, string, string];
  if (!WAL_NAME.test(name) || !isAbsolute(destination) || !isAbsolute(cwd)) return null;
  return { name, destination, cwd };
}

/** The socket path keel-wal-get names: `<dir>/keel-wal-get-<uid>/<server name>-<environment hash>.sock`. */
export function isWalGetSocketPath(path: string, uid: number): boolean {
  return isAbsolute(path) && new RegExp(`/keel-wal-get-${uid}/[0-9a-f]{24}-[0-9a-f]{16}\\.sock$`).test(path);
}

/**
 * Makes the socket's directory (mode 0700) and checks that it is this user's own and closed to
 * others, as the client does: never serves from one another user could have reached (a socket
 * planted there while it was open would still be there).
 */
async function privateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const info = await lstat(dir);
  const uid = process.getuid?.() ?? info.uid;
  if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o077) !== 0) {
    throw new Error(`${dir} is not a directory of uid ${uid} closed to others`);
  }
}

/** Whether a server answers on `path` (one that does is left alone). */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** How often the server looks at the postmasters it serves, at the process that started it and at its socket. */
const WATCH_MS = 1_000;

export interface ServerTimes {
  idleMs: number;
  unusedMs: number;
  /** A process (the restore that started this server ahead) while which the server is never unused. */
  parentPid?: number;
}

/**
 * Serves on `socketPath` until one of the exits in the module comment. Returns false at once if
 * another server already answers there.
 */
export async function runArchiveGetServer(
  socketPath: string,
  serve: ServeWal,
  times: ServerTimes = { idleMs: IDLE_MS, unusedMs: UNUSED_MS },
): Promise<boolean> {
  await privateDirectory(dirname(socketPath));
  let busy = 0;
  let idleTimer: NodeJS.Timeout | null = null;
  let over = false;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const finished = () => {
    over = true;
    finish();
  };
  /** The postmasters of the requests served so far (the ones still running), and whether there ever was one. */
  const postmasters = new Set<number>();
  let servedPostmaster = false;
  /** Whether a valid request was ever received (a bare connection, another server's probe, is not one). */
  let served = false;
  const turns = new DestinationTurns();
  // once over (its socket may now be another server's, which closing would unlink), nothing more
  const retire = () => {
    if (!over) server.close(() => finished());
  };
  const server = createServer((socket) => {
    busy++;
    if (idleTimer !== null) clearTimeout(idleTimer);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    void handle(socket, closed, {
      serve,
      retire,
      received: async (request) => {
        served = true;
        const postmaster = livePostmasterPid(request.cwd);
        if (postmaster !== null) {
          postmasters.add(postmaster);
          servedPostmaster = true;
        }
      },
      inTurn: (destination, work) => turns.run(destination, work),
    }).finally(() => {
      busy--;
      armIdle();
    });
  });
  const armIdle = () => {
    if (idleTimer !== null) clearTimeout(idleTimer);
    if (busy === 0 && !over) idleTimer = setTimeout(retire, served ? times.idleMs : times.unusedMs);
  };
  try {
    await listen(server, socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    if (await answers(socketPath)) return false;
    // a socket left by a server that died: nobody listens on it
    await rm(socketPath, { force: true });
    await listen(server, socketPath);
  }
  const ours = (await stat(socketPath)).ino;
  const watch = setInterval(() => {
    for (const pid of postmasters) if (!isAlive(pid)) postmasters.delete(pid);
    // while the restore that started it runs, a server is not unused yet
    if (!served && times.parentPid !== undefined && isAlive(times.parentPid)) armIdle();
    void stat(socketPath)
      .then(
        (info) => info.ino === ours,
        () => false,
      )
      .then((stillOurs) => {
        if (!stillOurs) {
          // closing would unlink the path, which is now another server's (or gone): just stop listening
          server.unref();
          finished();
        } else if (servedPostmaster && postmasters.size === 0 && busy === 0) retire();
      });
  }, WATCH_MS);
  armIdle();
  process.once('SIGTERM', retire);
  try {
    await done; // server.close removes the socket file
  } finally {
    clearInterval(watch);
    process.off('SIGTERM', retire);
    if (idleTimer !== null) clearTimeout(idleTimer);
  }
  return true;
}

/**
 * Runs work for one destination after every earlier work for it has settled (either way): two
 * requests for one file never write it at once, and the later one's file is the one left.
 */
export class DestinationTurns {
  private readonly last = new Map<string, Promise<void>>();

  run<T>(destination: string, work: () => Promise<T>): Promise<T> {
    const result = (this.last.get(destination) ?? Promise.resolve()).then(work);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.last.set(destination, settled);
    void settled.then(() => {
      if (this.last.get(destination) === settled) this.last.delete(destination);
    });
    return result;
  }

  /** Destinations with work queued or running. */
  get size(): number {
    return this.last.size;
  }
}

interface Handling {
  serve: ServeWal;
  retire: () => void;
  /** A valid request came in (before it is served). */
  received: (request: WalRequest) => Promise<void>;
  /** Runs `work` after every earlier request for the same destination has settled. */
  inTurn: <T>(destination: string, work: () => Promise<T>) => Promise<T>;
}

/** Serves one connection; settles once the connection has closed (so the server counts it busy until then). */
async function handle(socket: Socket, closed: Promise<void>, handling: Handling): Promise<void> {
  let gone = false;
  void closed.then(() => (gone = true));
  socket.on('error', () => undefined); // a client that went away: `closed` follows
  let reply = '';
  try {
    const line = await readLine(socket);
    const request = line === null ? null : parseWalRequest(line);
    if (request !== null) {
      await handling.received(request);
      const wanted = () => !gone && !socket.destroyed;
      const { found, log } = await handling.inTurn(request.destination, async () => {
        // a request whose client left while it waited for its turn is not fetched at all
        if (!wanted()) throw new Error('the client left before its turn');
        // one stuck (a hung repository mount) would hold every later request for this file: past
        // STUCK_MS the server stops taking new ones, and the next call starts another
        const stuck = setTimeout(handling.retire, STUCK_MS);
        try {
          return await handling.serve(request, wanted);
        } finally {
          clearTimeout(stuck);
        }
      });
      reply = `${found ? 'found' : 'missing'}\n${log}`;
    }
  } catch (error) {
    reply = ''; // the client runs the plain archive-get, which reports the error
    if (error instanceof OutdatedServer) handling.retire();
  }
  if (!socket.destroyed) socket.end(reply);
  // a client that stopped reading (frozen) is not waited for
  const timer = setTimeout(() => socket.destroy(), REQUEST_MS);
  await closed;
  clearTimeout(timer);
}

/** The request line (without its newline), or null if the client closed first, sent too much or took too long. */
function readLine(socket: Socket): Promise<string | null> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => finish(null), REQUEST_MS);
    const finish = (line: string | null) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve(line);
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) finish(text.slice(0, end));
      else if (text.length > 16_384) finish(null);
    });
    socket.once('end', () => finish(null));
    socket.once('close', () => finish(null));
  });
}
