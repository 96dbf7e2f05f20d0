/**
 * HAProxy's runtime API as the agent uses it: fire and forget. Each announcement goes to every
 * configured socket in parallel with a short deadline; nobody awaits it, and a socket that does
 * not answer is reported once (and once more when it answers again), never on every change.
 * An HAProxy that is down or unreachable therefore never slows the HA loop.
 */
import { createConnection } from 'node:net';
import { runtimeErrors } from './runtime-commands.js';

/** How long one socket may take to take the commands and answer. */
export const RUNTIME_API_TIMEOUT_MS = 500;
/** Upper bound on an answer kept (runtime answers to `set server` are a few lines). */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface RuntimeLog {
  info(message: string): void;
  warning(message: string): void;
}

/** unix socket path, host:port or [v6]:port. */
function connectOptions(socket: string): { path: string } | { host: string; port: number } {
  if (socket.startsWith('/')) return { path: socket };
  const colon = socket.lastIndexOf(':');
  return { host: socket.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(socket.slice(colon + 1)) };
}

/** Sends `commands` (one line, `;`-separated, as the runtime API takes them) and returns the answer. */
export function sendRuntimeCommands(socket: string, commands: readonly string[], timeoutMs = RUNTIME_API_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = createConnection(connectOptions(socket));
    let answer = '';
    const timer = setTimeout(() => connection.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    connection.setEncoding('utf8');
    connection.on('connect', () => connection.end(commands.join('; ') + '\n'));
    connection.on('data', (chunk: string) => {
      if (answer.length < MAX_ANSWER_BYTES) answer += chunk;
    });
    connection.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    connection.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(answer);
    });
  });
}

/** The agent's side: announcements to a set of sockets, with the once-only reporting of failures. */
export class HaproxyRuntimeClient {
  /** Per socket: did the last announcement reach it? (absent: never tried). */
  private readonly reached = new Map<string, boolean>();

  constructor(private readonly log: RuntimeLog) {}

  /** Sends in the background; returns at once. The promise is for tests (it never rejects). */
  announce(sockets: readonly string[], commands: readonly string[], what: string): Promise<void> {
    return Promise.all(sockets.map((socket) => this.announceTo(socket, commands, what))).then(() => undefined);
  }

  private async announceTo(socket: string, commands: readonly string[], what: string): Promise<void> {
    try {
      const errors = runtimeErrors(await sendRuntimeCommands(socket, commands));
      if (this.reached.get(socket) === false) this.log.info(`HAProxy runtime API at ${socket} answers again`);
      this.reached.set(socket, true);
      if (errors.length > 0) this.log.warning(`HAProxy at ${socket} refused part of "${what}": ${errors.join(' | ')}`);
      else this.log.info(`told HAProxy at ${socket}: ${what}`);
    } catch (error) {
      if (this.reached.get(socket) !== false)
        this.log.warning(
          `HAProxy runtime API at ${socket} not reachable (${error instanceof Error ? error.message : String(error)}): ` +
            'its health checks will move the traffic; the HA loop goes on (said once until it answers again)',
        );
      this.reached.set(socket, false);
    }
  }
}
