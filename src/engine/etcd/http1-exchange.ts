/**
 * One HTTP/1.1 request and its answer over a plain or TLS socket, kept open for the next request
 * to the same endpoint: the etcd client's unary calls (range, txn, lease keepalive, ...).
 *
 * Why not node:http: an agent sends a lease keepalive several times a second while it leads,
 * and node:http's client machinery (ClientRequest, agent pooling, header objects, its parser's
 * callbacks) cost about four times the socket work itself (measured: ~300 µs of CPU per request
 * against ~70 µs for the same bytes written and read here). The etcd gateway is one known server
 * (Go's net/http) answering small JSON bodies, so the subset read here is small: a status line,
 * headers, then a body framed by Content-Length, by chunked transfer coding, or by the end of the
 * connection. Watches (long-lived streams) stay on node:http (etcd-http.ts).
 *
 * Invariants: one request at a time per socket; a socket goes back to the idle pool only after
 * its answer was read to the end; anything unexpected destroys the socket.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { isIP } from 'node:net';
import type { TlsMaterial } from '../../config/tls-files.js';
import type { HostPort } from '../../config/types.js';

/** What the reader hands back: the status and the body (or its first line, see `firstLine`). */
export interface Http1Answer {
  status: number;
  body: string;
}

/** Why the bytes read are not a usable answer (socket failures are the caller's to handle). */
export type Http1Failure = { kind: 'malformed'; message: string } | { kind: 'too-large' };

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** Longest status line and headers accepted (the gateway sends a few hundred bytes). */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Incremental reader of one answer. `push` feeds bytes; the callbacks fire once: `onFirstLine`
 * when the body holds its first newline (streaming endpoints), `onDone` when the whole answer is in.
 */
export class AnswerReader {
  private buffered: Buffer = Buffer.alloc(0);
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done' = 'head';
  private status = 0;
  private remaining = 0;
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  private firstLineSeen = false;
  /** The server said it closes the connection after this answer (or HTTP/1.0). */
  closeAfter = false;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly onFirstLine: ((answer: Http1Answer) => void) | null,
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** True when the end of the connection completes the answer (a body framed by the close). */
  endsAtClose(): boolean {
    return this.state === 'until-close';
  }

  answer(): Http1Answer {
    return { status: this.status, body: Buffer.concat(this.body).toString('utf8') };
  }

  /** Feeds bytes; returns a failure, or null. Bytes after the answer's end are a protocol error. */
  push(chunk: Buffer): Http1Failure | null {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const progressed = this.step();
      if (typeof progressed !== 'boolean') return progressed;
      if (!progressed) return null;
      if (this.state === 'done') return this.buffered.length === 0 ? null : { kind: 'malformed', message: 'bytes after the end of the answer' };
    }
  }

  /** One parsing step: true when it consumed something, false when it needs more bytes. */
  private step(): boolean | Http1Failure {
    switch (this.state) {
      case 'head': {
        const end = this.buffered.indexOf(HEAD_END);
        if (end < 0) return this.buffered.length > MAX_HEAD_BYTES ? { kind: 'malformed', message: 'answer headers too long' } : false;
        const head = this.buffered.subarray(0, end).toString('latin1');
        this.buffered = this.buffered.subarray(end + HEAD_END.length);
        return this.readHead(head);
      }
      case 'length': {
        const take = Math.min(this.remaining, this.buffered.length);
        if (take === 0) return this.remaining === 0 ? this.finish() : false;
        const failure = this.addBody(this.buffered.subarray(0, take));
        if (failure !== null) return failure;
        this.buffered = this.buffered.subarray(take);
        this.remaining -= take;
        return this.remaining === 0 ? this.finish() : true;
      }
      case 'chunk-size': {
        const end = this.buffered.indexOf(CRLF);
        if (end < 0) return this.buffered.length > 1024 ? { kind: 'malformed', message: 'chunk size line too long' } : false;
        const line = this.buffered.subarray(0, end).toString('latin1');
        this.buffered = this.buffered.subarray(end + 2);
        const size = Number.parseInt(line.split(';')[0]?.trim() ?? '', 16);
        if (!Number.isFinite(size) || size < 0) return { kind: 'malformed', message: `bad chunk size ${JSON.stringify(line)}` };
        this.remaining = size;
        this.state = size === 0 ? 'trailers' : 'chunk-data';
        return true;
      }
      case 'chunk-data': {
        const take = Math.min(this.remaining, this.buffered.length);
        if (take === 0) return false;
        const failure = this.addBody(this.buffered.subarray(0, take));
        if (failure !== null) return failure;
        this.buffered = this.buffered.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'chunk-end';
        return true;
      }
      case 'chunk-end': {
        if (this.buffered.length < 2) return false;
        if (this.buffered[0] !== 0x0d || this.buffered[1] !== 0x0a) return { kind: 'malformed', message: 'chunk not followed by CRLF' };
        this.buffered = this.buffered.subarray(2);
        this.state = 'chunk-size';
        return true;
      }
      case 'trailers': {
        const end = this.buffered.indexOf(CRLF);
        if (end < 0) return false;
        this.buffered = this.buffered.subarray(end + 2);
        return end === 0 ? this.finish() : true; // an empty line ends the trailers
      }
      case 'until-close': {
        if (this.buffered.length === 0) return false;
        const failure = this.addBody(this.buffered);
        this.buffered = Buffer.alloc(0);
        return failure ?? false;
      }
      case 'done':
        return false;
    }
  }

  private readHead(head: string): boolean | Http1Failure {
    const lines = head.split('\r\n');
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (statusLine === null) return { kind: 'malformed', message: `not an HTTP/1.x answer: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}` };
    this.status = Number(statusLine[2]);
    this.closeAfter = statusLine[1] === '0';
    let length: number | null = null;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding')
        chunked = value
          .toLowerCase()
          .split(',')
          .some((coding) => coding.trim() === 'chunked');
      else if (name === 'connection') this.closeAfter = value.toLowerCase() === 'close' ? true : value.toLowerCase() === 'keep-alive' ? false : this.closeAfter;
    }
    if (chunked) this.state = 'chunk-size';
    else if (length !== null) {
      if (!Number.isSafeInteger(length) || length < 0) return { kind: 'malformed', message: 'bad content-length' };
      if (length > this.maxBodyBytes) return { kind: 'too-large' };
      this.remaining = length;
      this.state = 'length';
    } else if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) return this.finish();
    else {
      this.state = 'until-close';
      this.closeAfter = true;
    }
    return true;
  }

  private addBody(bytes: Buffer): Http1Failure | null {
    this.bodyBytes += bytes.length;
    if (this.bodyBytes > this.maxBodyBytes) return { kind: 'too-large' };
    this.body.push(Buffer.from(bytes)); // a copy: `bytes` is a view of a socket buffer
    if (this.onFirstLine !== null && !this.firstLineSeen && bytes.includes(0x0a)) {
      this.firstLineSeen = true;
      const text = Buffer.concat(this.body).toString('utf8');
      this.onFirstLine({ status: this.status, body: text.slice(0, text.indexOf('\n')) });
    }
    return null;
  }

  private finish(): true {
    this.state = 'done';
    return true;
  }
}

/** Idle sockets by endpoint, reused for the next request (HTTP/1.1 keep-alive). */
export class Http1Pool {
  private readonly idle = new Map<string, Socket[]>();
  private closed = false;

  constructor(
    private readonly protocol: 'http' | 'https',
    private readonly tls: TlsMaterial,
    private readonly maxIdlePerEndpoint = 4,
  ) {}

  /** An idle socket to `endpoint`, or a new one (connecting; writes are queued until it is). */
  take(endpoint: HostPort): { socket: Socket; reused: boolean } {
    const key = `${endpoint.host}:${endpoint.port}`;
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const socket = list.pop() as Socket;
      if (socket.destroyed || !socket.writable) continue;
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      socket.ref();
      return { socket, reused: true };
    }
    const socket =
      this.protocol === 'https'
        ? tlsConnect({ host: endpoint.host, port: endpoint.port, ...this.tls, ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}) })
        : netConnect({ host: endpoint.host, port: endpoint.port });
    socket.setNoDelay(true);
    return { socket, reused: false };
  }

  /** Hands a socket whose answer was read completely back for reuse. */
  give(endpoint: HostPort, socket: Socket): void {
    const key = `${endpoint.host}:${endpoint.port}`;
    const list = this.idle.get(key) ?? [];
    if (this.closed || list.length >= this.maxIdlePerEndpoint || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.removeAllListeners('data');
    socket.removeAllListeners('end');
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    const drop = (): void => {
      socket.destroy();
      const current = this.idle.get(key);
      if (current !== undefined)
        this.idle.set(
          key,
          current.filter((s) => s !== socket),
        );
    };
    // A server closing an idle connection, or sending anything unasked, ends its reuse.
    socket.once('close', drop);
    socket.once('error', drop);
    socket.once('data', drop);
    socket.unref();
    list.push(socket);
    this.idle.set(key, list);
  }

  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const socket of list) socket.destroy();
    this.idle.clear();
  }
}

/** The request's bytes: one write, headers and body together. */
export function requestBytes(method: 'GET' | 'POST', path: string, endpoint: HostPort, headers: Record<string, string>, payload: string | undefined): Buffer {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (payload === undefined) return Buffer.from(`${head}\r\n`, 'utf8');
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${head}content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`, 'utf8'), body]);
}
