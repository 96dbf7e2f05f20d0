/**
 * One HTTP exchange with one etcd endpoint, with a hard timeout (node:http, no library: we need
 * to destroy a hung socket at an exact instant and to read the gateway's streams line by line).
 *
 * Invariants: every request either settles within its timeout or is destroyed; a failure to get
 * an answer at all (refused, reset, timeout) is a TransportError, never an EtcdError; a stale
 * keep-alive socket closed by the server is retried once on a fresh one, within the same timeout.
 * Over https the CA, client certificate and key given at construction are used for every
 * connection (also the watch streams' own); a TLS failure says so in its message.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TlsMaterial } from '../../config/tls-files.js';
import type { HostPort } from '../../config/types.js';
import { tlsFailure } from '../tls-errors.js';

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
  private readonly agent: HttpAgent;
  private readonly protocol: Protocol;
  private readonly tls: TlsMaterial;

  /** `tls`: CA bundle (absent = the system's CAs), client certificate and key; used with https only. */
  constructor(protocol: Protocol, tls: TlsMaterial = {}) {
    this.protocol = protocol;
    this.tls = protocol === 'https' ? tls : {};
    const options = { keepAlive: true, maxSockets: 16, maxFreeSockets: 4 };
    this.agent = protocol === 'https' ? new HttpsAgent({ ...options, ...this.tls }) : new HttpAgent(options);
  }

  close(): void {
    this.agent.destroy();
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
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null, answer?: HttpAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error !== null) {
          req.destroy();
          reject(error);
        } else if (answer !== undefined) {
          resolve(answer);
        }
      };
      const req = this.request(endpoint, {
        method,
        path,
        headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
      });
      const timer = setTimeout(() => finish(new TransportError(name, `no answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        const transport = TransportError.from(name, error);
        finish(req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE') ? new StaleSocketError(transport) : transport);
      });
      req.on('response', (res: IncomingMessage) => readAnswer(res, name, firstLine, finish));
      req.end(payload);
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

function readAnswer(res: IncomingMessage, name: string, firstLine: boolean, finish: (error: Error | null, answer?: HttpAnswer) => void): void {
  const status = res.statusCode ?? 0;
  const chunks: Buffer[] = [];
  let size = 0;
  let answered = false;
  res.on('data', (chunk: Buffer) => {
    if (answered) return;
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      finish(new TransportError(name, `answer larger than ${MAX_BODY_BYTES} bytes`));
      return;
    }
    chunks.push(chunk);
    if (firstLine && chunk.includes(0x0a)) {
      answered = true;
      const text = Buffer.concat(chunks).toString('utf8');
      finish(null, { status, body: text.slice(0, text.indexOf('\n')) });
      // Drain the rest so the socket can be reused, but never hold it for a stream that stays open.
      const drainTimer = setTimeout(() => res.destroy(), STREAM_DRAIN_MS);
      drainTimer.unref();
      res.on('end', () => clearTimeout(drainTimer));
    }
  });
  res.on('end', () => finish(null, { status, body: Buffer.concat(chunks).toString('utf8') }));
  res.on('close', () => finish(new TransportError(name, 'answer cut off')));
  res.on('error', (error) => finish(new TransportError(name, error.message, { cause: error })));
}
