/**
 * The archive-get server: restore_command's fast path (native/keel-wal-get.c is its client).
 *
 * A recovery runs restore_command once per WAL file, one after the other. Served by a process
 * that is already running, each call costs the fetch itself instead of a Node.js start-up
 * (75 ms) plus loading the backup modules. The first `archive-get` of a recovery finds no server,
 * serves its own request and starts one (detached, `archive-get:serve`); the calls after it go to
 * the server. The server keeps nothing between requests that could go stale: each request reads
 * the archive afresh (a history file that was missing may exist now), and the repository is
 * opened again whenever its stanza.json changes (stanza-upgrade). It exits after `idleMs`
 * without a request or once every PostgreSQL it served has stopped, and gives way to a server
 * already listening on its socket.
 *
 * Requests (one per connection): "get\t<WAL name>\t<absolute destination>\t<caller's working
 * directory>\n". Reply: "found\n" or "missing\n", then the log lines to print, then the server
 * closes the connection. A failure closes it with no status line: the client then runs the plain
 * archive-get, which reports the error itself with its exit code.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, lstat, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';

/** How long an idle server stays: a replica that lost streaming asks every 5 s (wal_retrieve_retry_interval). */
export const IDLE_MS = 30_000;
/** How long a server started ahead (by a restore) waits for its first request. */
export const UNUSED_MS = 15_000;

export interface WalRequest {
  name: string;
  destination: string;
  cwd: string;
}

/**
 * Fetches one WAL file; resolves to whether the archive had it and the log lines to print. Throws
 * OutdatedServer when the server's settings are no longer the ones the command line resolves to.
 */
export type ServeWal = (request: WalRequest) => Promise<{ found: boolean; log: string }>;

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

/**
 * Makes the socket's directory (mode 0700) and checks that it is this user's own and closed to
 * others, as the client does: refuses to serve from one another user could reach.
 */
async function privateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const info = await lstat(dir);
  const uid = process.getuid?.() ?? info.uid;
  if (!info.isDirectory() || info.uid !== uid) throw new Error(`${dir} is not a directory of uid ${uid}`);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** Whether a server answers on `path` (one that does is left alone). */
function answers(path: string): Promise<boolean> {
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

/** How often the server looks at the postmasters it serves and at its socket. */
const WATCH_MS = 1_000;

/**
 * Serves on `socketPath` until idle for `idleMs` (`unusedMs` before the first request), or until every PostgreSQL it has served has
 * stopped (their postmaster.pid, read in the caller's working directory), or until its socket is
 * removed or taken by another server. Returns false at once if another server already answers
 * there.
 */
export async function runArchiveGetServer(socketPath: string, serve: ServeWal, idleMs = IDLE_MS, unusedMs = UNUSED_MS): Promise<boolean> {
  await privateDirectory(dirname(socketPath));
  let busy = 0;
  let idleTimer: NodeJS.Timeout | null = null;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  /** The postmasters of the requests served so far (the ones still running). */
  const postmasters = new Set<number>();
  let served = false;
  const server = createServer((socket) => {
    served = true;
    busy++;
    if (idleTimer !== null) clearTimeout(idleTimer);
    void handle(socket, serve, postmasters, () => server.close(() => finished())).finally(() => {
      busy--;
      armIdle();
    });
  });
  const armIdle = () => {
    if (idleTimer !== null) clearTimeout(idleTimer);
    if (busy === 0) idleTimer = setTimeout(() => server.close(() => finished()), served ? idleMs : unusedMs);
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
        } else if (served && postmasters.size === 0 && busy === 0) server.close(() => finished());
      });
  }, WATCH_MS);
  armIdle();
  const stop = () => server.close(() => finished());
  process.once('SIGTERM', stop);
  try {
    await done; // server.close removes the socket file
  } finally {
    clearInterval(watch);
    process.off('SIGTERM', stop);
    if (idleTimer !== null) clearTimeout(idleTimer);
  }
  return true;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster's pid from postmaster.pid in `dataDir`, or null (not a running PostgreSQL's directory). */
async function postmasterOf(dataDir: string): Promise<number | null> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number(text?.split('\n', 1)[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

async function handle(socket: Socket, serve: ServeWal, postmasters: Set<number>, retire: () => void): Promise<void> {
  let reply = '';
  try {
    const line = await readLine(socket);
    const request = line === null ? null : parseWalRequest(line);
    if (request !== null) {
      const postmaster = await postmasterOf(request.cwd);
      if (postmaster !== null) postmasters.add(postmaster);
      const { found, log } = await serve(request);
      reply = `${found ? 'found' : 'missing'}\n${log}`;
    }
  } catch (error) {
    reply = ''; // the client runs the plain archive-get, which reports the error
    if (error instanceof OutdatedServer) retire();
  }
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.end(reply);
  });
}

/** The request line (without its newline), or null if the client closed first or sent too much. */
function readLine(socket: Socket): Promise<string | null> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (line: string | null) => {
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
    socket.once('error', () => finish(null));
  });
}
