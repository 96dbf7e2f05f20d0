/**
 * One HTTP exchange with one etcd endpoint, with a hard timeout (no library: we need to destroy a
 * hung socket at an exact instant and to read the gateway's streams line by line). Short calls go
 * over reused sockets read by http1-exchange.ts; watch streams over node:http.
 *
 * Invariants: every request either settles within its timeout or is destroyed; a failure to get
 * an answer at all (refused, reset, timeout) is a TransportError, never an EtcdError; a stale
 * keep-alive socket closed by the server is retried once on a fresh one, within the same timeout.
 * Over https the CA, client certificate and key given at construction are used for every
 * connection (also the watch streams' own); a TLS failure says so in its message.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TlsMaterial } from '../../config/tls-files.js';
import type { HostPort } from '../../config/types.js';
import { tlsFailure } from '../tls-errors.js';
import { AnswerReader, Http1Pool, requestBytes, type Http1Failure } from './http1-exchange.js';

/** Largest answer body read into memory (a whole cluster prefix is a few hundred KB at most). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** How long a streaming answer may stay open after its first line before its socket is dropped. */
const STREAM_DRAIN_MS = 1_000;

/** No answer from an endpoint: connection refused or reset, timeout, truncated body. */
export class TransportError extends Error {
  readonly endpoint: string;
  /** A TLS failure (certificate not trusted, client certificate refused, not TLS): a setup problem, not an outage. */
  readonly tls: boolean;
  constructor(endpoint: string, message: string, options?: { cause?: unknown; tls?: boolean }) {
    super(`${endpoint}: ${message}`, options);
    this.name = 'TransportError';
    this.endpoint = endpoint;
    this.tls = options?.tls ?? false;
  }

  /** From a socket error, naming a TLS failure as such (e.g. a wrong CA). */
  static from(endpoint: string, error: Error): TransportError {
    const tls = tlsFailure(error);
    return new TransportError(endpoint, tls?.message ?? error.message, { cause: error, tls: tls !== null });
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export type Protocol = 'http' | 'https';

export function endpointName(endpoint: HostPort): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

export class EtcdHttp {
  /** For the watch streams (long-lived, one connection each). */
  private readonly agent: HttpAgent;
  /** For every other call: short exchanges on reused sockets (http1-exchange.ts says why). */
  private readonly pool: Http1Pool;
  private readonly protocol: Protocol;
  private readonly tls: TlsMaterial;

  /** `tls`: CA bundle (absent = the system's CAs), client certificate and key; used with https only. */
  constructor(protocol: Protocol, tls: TlsMaterial = {}) {
    this.protocol = protocol;
    this.tls = protocol === 'https' ? tls : {};
    const options = { keepAlive: true, maxSockets: 16, maxFreeSockets: 4 };
    this.agent = protocol === 'https' ? new HttpsAgent({ ...options, ...this.tls }) : new HttpAgent(options);
    this.pool = new Http1Pool(protocol, this.tls);
  }

  close(): void {
    this.agent.destroy();
    this.pool.close();
  }

  /**
   * GET or POST `path` on `endpoint`. With `firstLine`, the answer is complete at the first
   * newline (the gateway's streaming endpoints, e.g. lease keepalive, send one JSON per line).
   */
  async exchange(
    endpoint: HostPort,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    headers: Record<string, string>,
    timeoutMs: number,
    firstLine = false,
  ): Promise<HttpAnswer> {
    const deadline = performance.now() + timeoutMs;
    try {
      return await this.once(endpoint, method, path, body, headers, timeoutMs, firstLine);
    } catch (error) {
      const remaining = deadline - performance.now();
      if (!(error instanceof StaleSocketError) || remaining <= 0) throw unwrapStale(error);
      return this.once(endpoint, method, path, body, headers, remaining, firstLine).catch((retryError: unknown) => {
        throw unwrapStale(retryError);
      });
    }
  }

  private once(
    endpoint: HostPort,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    headers: Record<string, string>,
    timeoutMs: number,
    firstLine: boolean,
  ): Promise<HttpAnswer> {
    const name = endpointName(endpoint);
    for (const value of Object.values(headers)) if (/[\r\n]/.test(value)) return Promise.reject(new TransportError(name, 'a header value holds a line break'));
    const bytes = requestBytes(method, path, endpoint, headers, body === undefined ? undefined : JSON.stringify(body));
    const { socket, reused } = this.pool.take(endpoint);
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      let gotBytes = false;
      let drainTimer: NodeJS.Timeout | null = null;
      const settle = (error: Error | null, answer?: HttpAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error !== null) reject(error);
        else resolve(answer as HttpAnswer);
      };
      const fail = (error: Error): void => {
        socket.destroy();
        if (drainTimer !== null) clearTimeout(drainTimer);
        settle(error);
      };
      const reader = new AnswerReader(MAX_BODY_BYTES, firstLine ? (answer) => settle(null, answer) : null);
      const timer = setTimeout(() => fail(new TransportError(name, `no answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
      const complete = (): void => {
        if (drainTimer !== null) clearTimeout(drainTimer);
        settle(null, reader.answer());
        if (reader.closeAfter) socket.destroy();
        else this.pool.give(endpoint, socket);
      };
      socket.on('data', (chunk: Buffer) => {
        gotBytes = true;
        const failure = reader.push(chunk);
        if (failure !== null) fail(failureError(name, failure));
        else if (reader.done) complete();
        else if (settled && drainTimer === null) {
          // The first line answered; drain the rest so the socket can be reused, but never hold
          // it for a stream that stays open. Armed only when the answer did not end in the same
          // chunk (it usually does). Referenced: a cancelled unreferenced timer would still wake
          // the idle agent at its time (deadline-timer.ts); this one holds an exit 1 s at most.
          drainTimer = setTimeout(() => socket.destroy(), STREAM_DRAIN_MS);
        }
      });
      socket.on('end', () => {
        if (reader.endsAtClose()) complete();
      });
      socket.on('close', () => {
        if (reader.done || settled) return;
        const cutOff = new TransportError(name, 'answer cut off');
        fail(reused && !gotBytes ? new StaleSocketError(cutOff) : cutOff);
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        const transport = TransportError.from(name, error);
        fail(reused && !gotBytes && (error.code === 'ECONNRESET' || error.code === 'EPIPE') ? new StaleSocketError(transport) : transport);
      });
      socket.write(bytes);
    });
  }

  /** Opens a long-lived POST (a watch) on its own connection; the caller reads and destroys it. */
  openStream(endpoint: HostPort, path: string, body: unknown, headers: Record<string, string>): ClientRequest {
    const payload = JSON.stringify(body);
    const req = this.request(endpoint, {
      method: 'POST',
      path,
      agent: false,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
    });
    req.end(payload);
    return req;
  }

  private request(endpoint: HostPort, options: RequestOptions): ClientRequest {
    // the TLS material goes with each request too: a stream's `agent: false` makes a fresh agent from these options
    const full: RequestOptions = { agent: this.agent, ...this.tls, ...options, host: endpoint.host, port: endpoint.port };
    return this.protocol === 'https' ? httpsRequest(full) : httpRequest(full);
  }
}

class StaleSocketError extends Error {
  readonly transport: TransportError;
  constructor(transport: TransportError) {
    super(transport.message);
    this.transport = transport;
  }
}

function unwrapStale(error: unknown): unknown {
  return error instanceof StaleSocketError ? error.transport : error;
}

function failureError(name: string, failure: Http1Failure): Error {
  switch (failure.kind) {
    case 'too-large':
      return new TransportError(name, `answer larger than ${MAX_BODY_BYTES} bytes`);
    case 'malformed':
      return new TransportError(name, `malformed answer: ${failure.message}`);
  }
}
