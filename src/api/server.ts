/**
 * The agent's REST API server on node:http: Patroni 3.0.2-compatible, so HAProxy's
 * `option httpchk` and the real patronictl work against it.
 *
 * Invariants:
 *  - a handler never throws out of the server: a bug answers 500 (one line) and is logged;
 *  - HEAD and OPTIONS answer any GET route's status code with headers only — HAProxy reads the
 *    status line alone — and never a body;
 *  - unsafe methods (POST, PUT, PATCH, DELETE) are refused with 403 to clients outside
 *    restapi.allowlist when one is configured, then (HTTPS with verify_client optional or
 *    required) with 403 to clients without a valid certificate, then require HTTP basic auth when
 *    credentials are configured, compared in constant time; no request body is read before those
 *    checks. Safe methods stay open, except that verify_client required refuses every TLS
 *    handshake without a valid client certificate (Patroni's RestApiServer does the same);
 *  - with restapi.certfile the server speaks HTTPS only (node:https); the TLS files are read
 *    when it starts;
 *  - request bodies are limited (64 KiB by default, 413 beyond) and the whole request must
 *    arrive within a timeout; the connection stays usable after a rejected body (it is drained);
 *  - unknown path: 404; known path, other method: 405 with Allow.
 * Routing lives in routes.ts (a table); this module only speaks HTTP.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pyJsonDumps } from '../patroni/python-compat.js';
import { TlsFileError, readTlsMaterial } from '../config/tls-files.js';
import type { Credentials, HostPort, VerifyClient } from '../config/types.js';
import { KeelError } from '../errors.js';
import { createLogger, type Logger } from '../observability/log.js';
import { withTimeout } from '../engine/timeout.js';
import type { Allowlist } from './allowlist.js';
import { normalisePath } from './health.js';
import { keelRoutes } from './keel-routes.js';
import { patroniRoutes, text, type ApiProvider, type JsonObject, type Method, type Reply, type Route } from './routes.js';

export const BODY_LIMIT_BYTES = 64 * 1024;
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Longest a handler may take (a switchover waits for the new leader); then 503. */
export const HANDLER_TIMEOUT_MS = 60_000;
/** How long close() lets in-flight requests finish before cutting connections. */
export const CLOSE_GRACE_MS = 2_000;

/** restapi's TLS settings (paths); see RestApiConfig. */
export interface ApiServerTls {
  certfile: string;
  keyfile?: string;
  keyfilePassword?: string;
  cafile?: string;
  ciphers?: string;
  verifyClient: VerifyClient;
}

export interface ApiServerOptions {
  listen: HostPort;
  /** Serve HTTPS with these files; absent = plain HTTP. */
  tls?: ApiServerTls;
  /** restapi.authentication: required for unsafe methods when set. */
  auth?: Credentials;
  /** restapi.allowlist / allowlist_include_members: who may make unsafe requests (checked before auth). */
  allowlist?: Allowlist;
  provider: ApiProvider;
  /** Routes added to (or replacing, same method and path) Patroni's, e.g. GET /metrics. */
  extraRoutes?: Route[];
  log?: Logger;
  /** Monotonic clock for /liveness; the same clock the agent's haLoop.nextRunAtMs uses. */
  clock?: () => number;
  bodyLimitBytes?: number;
  handlerTimeoutMs?: number;
}

export interface ApiServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  scheme: 'http' | 'https';
  close(): Promise<void>;
}

type RouteTable = Map<string, Map<Method, Route>>;

function buildTable(routes: Route[]): RouteTable {
  const table: RouteTable = new Map();
  for (const route of routes) {
    const path = normalisePath(route.path);
    const byMethod = table.get(path) ?? new Map<Method, Route>();
    byMethod.set(route.method, route);
    table.set(path, byMethod);
  }
  return table;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Patroni's check_auth_header: null when allowed, else the one-line reason for the 401. */
function authFailure(expectedHeaderDigest: Buffer | null, header: string | undefined): string | null {
  if (expectedHeaderDigest === null) return null;
  if (header === undefined) return 'no auth header received';
  // Comparing fixed-size digests keeps the comparison constant-time whatever the lengths.
  return timingSafeEqual(digest(header), expectedHeaderDigest) ? null : 'not authenticated';
}

type BodyOutcome = { ok: true; body: JsonObject } | { ok: false; reply: Reply };

/** Reads at most `limit` bytes; past it answers 413 at once and drains the rest (bounded by the request timeout). */
function readBody(req: IncomingMessage, limit: number): Promise<{ ok: true; raw: Buffer } | { ok: false; reply: Reply }> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve({ ok: false, reply: text(413, `request body larger than ${limit} bytes`) });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: { ok: true; raw: Buffer } | { ok: false; reply: Reply }): void => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) settle({ ok: false, reply: text(413, `request body larger than ${limit} bytes`) });
      else chunks.push(chunk);
    });
    req.on('end', () => settle({ ok: true, raw: Buffer.concat(chunks) }));
    req.on('error', () => settle({ ok: false, reply: text(400, 'request body could not be read') }));
  });
}

async function parseBody(req: IncomingMessage, route: Route, limit: number): Promise<BodyOutcome> {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    return route.body === 'optional' ? { ok: true, body: {} } : { ok: false, reply: text(411, 'a JSON object body with Content-Length is required') };
  }
  const read = await readBody(req, limit);
  if (!read.ok) return read;
  const raw = read.raw.toString('utf8');
  if (raw.trim() === '' && route.body === 'optional') return { ok: true, body: {} };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { ok: false, reply: text(400, `malformed JSON body: ${error instanceof Error ? error.message : String(error)}`) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reply: text(400, 'the body must be a JSON object') };
  const body = value as JsonObject;
  if (route.body === 'required' && Object.keys(body).length === 0) return { ok: false, reply: text(400, 'the body must be a non-empty JSON object') };
  return { ok: true, body };
}

function send(res: ServerResponse, reply: Reply, headOnly: boolean): void {
  if (res.headersSent || res.destroyed) return;
  // HEAD and OPTIONS get no body, so none is rendered: the seed's write check (`option httpchk`,
  // i.e. OPTIONS /) comes every few seconds from every load balancer.
  if (headOnly) {
    res.writeHead(reply.code, { ...reply.headers, 'Content-Length': '0' });
    res.end();
    return;
  }
  const headers: Record<string, string> = { ...reply.headers };
  let payload = '';
  if (reply.body.kind === 'json') {
    headers['Content-Type'] = 'application/json';
    payload = pyJsonDumps(reply.body.value);
  } else if (reply.body.kind === 'text') {
    headers['Content-Type'] = reply.body.contentType ?? 'text/plain; charset=utf-8';
    payload = reply.body.text;
  }
  headers['Content-Length'] = String(Buffer.byteLength(payload, 'utf8'));
  res.writeHead(reply.code, headers);
  res.end(payload);
}

interface Dispatch {
  table: RouteTable;
  provider: ApiProvider;
  authDigest: Buffer | null;
  allowlist: Allowlist | null;
  /** Unsafe requests need a verified client certificate (HTTPS with verify_client optional or required). */
  clientCertificateRequired: boolean;
  clock: () => number;
  bodyLimitBytes: number;
  handlerTimeoutMs: number;
  log: Logger;
}

function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const mark = url.indexOf('?');
  const path = mark === -1 ? url : url.slice(0, mark);
  return { path: normalisePath(path), query: new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1)) };
}

async function route(req: IncomingMessage, d: Dispatch): Promise<{ reply: Reply; headOnly: boolean }> {
  const method = (req.method ?? 'GET').toUpperCase();
  const headOnly = method === 'HEAD' || method === 'OPTIONS';
  const { path, query } = splitUrl(req.url ?? '/');
  const byMethod = d.table.get(path);
  if (byMethod === undefined) return { reply: text(404, `no such endpoint: ${path}`), headOnly };
  const chosen = byMethod.get((headOnly ? 'GET' : method) as Method);
  if (chosen === undefined) {
    const allow = [...byMethod.keys()].flatMap((m) => (m === 'GET' ? ['GET', 'HEAD', 'OPTIONS'] : [m])).join(', ');
    return { reply: { ...text(405, `${method} is not allowed on ${path}`), headers: { Allow: allow } }, headOnly };
  }
  if (chosen.unsafe) {
    const allowed = d.allowlist === null || (await d.allowlist.allows(req.socket.remoteAddress ?? '', () => d.provider.memberHosts?.() ?? []));
    if (!allowed) return { reply: text(403, 'Access is denied'), headOnly };
    if (d.clientCertificateRequired && (req.socket as TLSSocket).authorized !== true) return { reply: text(403, 'client certificate required'), headOnly };
    const failure = authFailure(d.authDigest, req.headers.authorization);
    if (failure !== null) return { reply: { ...text(401, failure), headers: { 'WWW-Authenticate': 'Basic realm="keel"' } }, headOnly };
  }
  const body: BodyOutcome = chosen.body === 'none' ? { ok: true, body: {} } : await parseBody(req, chosen, d.bodyLimitBytes);
  if (!body.ok) return { reply: body.reply, headOnly };
  const work = chosen.handle({ path, query, body: body.body, provider: d.provider, nowMs: d.clock() });
  // A handler that answers at once (every health check) needs no timer: HAProxy's checks come
  // several times a second, and a timer each is measurable in an idle agent's cost (issue 12).
  if (!(work instanceof Promise)) return { reply: work, headOnly };
  const reply = await withTimeout(work, d.handlerTimeoutMs, () => text(503, `${method} ${path} timed out after ${d.handlerTimeoutMs} ms`));
  return { reply, headOnly };
}

async function handle(req: IncomingMessage, res: ServerResponse, d: Dispatch): Promise<void> {
  try {
    const { reply, headOnly } = await route(req, d);
    send(res, reply, headOnly);
  } catch (error) {
    d.log.error(`REST API: ${req.method ?? '?'} ${req.url ?? '?'} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    try {
      send(res, text(500, `internal error: ${error instanceof Error ? error.message : String(error)}`), false);
    } catch {
      res.destroy();
    }
  }
}

function listenHost(host: string): string | undefined {
  return host === '' || host === '*' ? undefined : host;
}

function listen(server: Server, at: HostPort): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new KeelError('api.listen', `cannot serve the REST API on ${at.host}:${at.port}: ${error.code ?? error.message}`, {
          hint: 'check restapi.listen: the address must be local and the port free',
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: listenHost(at.host), port: at.port }, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closer(server: Server): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
}

const SERVER_TIMEOUTS = { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS };

function createHttps(tls: ApiServerTls, listener: (req: IncomingMessage, res: ServerResponse) => void): Server {
  let material;
  try {
    material = readTlsMaterial({ ca: tls.cafile, cert: tls.certfile, key: tls.keyfile, passphrase: tls.keyfilePassword });
  } catch (error) {
    if (!(error instanceof TlsFileError)) throw error;
    const key = { ca: 'restapi.cafile', cert: 'restapi.certfile', key: 'restapi.keyfile' }[error.role];
    throw new KeelError('api.tls_file', `cannot serve the REST API over HTTPS: ${key}: ${error.message}`);
  }
  const server = createHttpsServer(
    {
      ...SERVER_TIMEOUTS,
      ...material,
      ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
      handshakeTimeout: HEADERS_TIMEOUT_MS,
      requestCert: tls.verifyClient !== 'none',
      rejectUnauthorized: tls.verifyClient === 'required',
    },
    listener,
  );
  if (tls.verifyClient === 'optional') {
    // Python's CERT_OPTIONAL (Patroni): no certificate is fine, an invalid one fails the handshake
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) socket.destroy();
    });
  }
  return server;
}

/** Starts the REST API; resolves once listening. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const auth = options.auth;
  const dispatch: Dispatch = {
    table: buildTable([...patroniRoutes(), ...keelRoutes(), ...(options.extraRoutes ?? [])]),
    provider: options.provider,
    allowlist: options.allowlist ?? null,
    clientCertificateRequired: options.tls !== undefined && options.tls.verifyClient !== 'none',
    authDigest: auth === undefined ? null : digest(`Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`, 'utf8').toString('base64')}`),
    clock: options.clock ?? (() => performance.now()),
    bodyLimitBytes: options.bodyLimitBytes ?? BODY_LIMIT_BYTES,
    handlerTimeoutMs: options.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS,
    log: options.log ?? createLogger({ level: 'info', format: 'text' }),
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    res.on('error', () => undefined);
    void handle(req, res, dispatch);
  };
  const server = options.tls === undefined ? createServer(SERVER_TIMEOUTS, listener) : createHttps(options.tls, listener);
  const port = await listen(server, options.listen);
  server.on('error', (error) => dispatch.log.error(`REST API server error: ${error.message}`));
  return { port, scheme: options.tls === undefined ? 'http' : 'https', close: closer(server) };
}

export type { ApiProvider, OperationResult, Route, Reply, JsonObject } from './routes.js';
