/**
 * The agent's REST API server on node:http: Patroni 3.0.2-compatible, so HAProxy's
 * `option httpchk` and the real patronictl work against it.
 *
 * Invariants:
 *  - a handler never throws out of the server: a bug answers 500 (one line) and is logged;
 *  - HEAD and OPTIONS answer any GET route's status code with headers only — HAProxy reads the
 *    status line alone — and never a body;
 *  - unsafe methods (POST, PUT, PATCH, DELETE) are refused with 403 to clients outside
 *    restapi.allowlist when one is configured, then require HTTP basic auth when credentials are
 *    configured, compared in constant time; no request body is read before those checks;
 *  - request bodies are limited (64 KiB by default, 413 beyond) and the whole request must
 *    arrive within a timeout; the connection stays usable after a rejected body (it is drained);
 *  - unknown path: 404; known path, other method: 405 with Allow.
 * Routing lives in routes.ts (a table); this module only speaks HTTP.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { pyJsonDumps } from '../patroni/python-compat.js';
import { KeelError } from '../errors.js';
import { createLogger } from '../observability/log.js';
import { normalisePath } from './health.js';
import { patroniRoutes, text } from './routes.js';
export const BODY_LIMIT_BYTES = 64 * 1024;
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Longest a handler may take (a switchover waits for the new leader); then 503. */
export const HANDLER_TIMEOUT_MS = 60_000;
/** How long close() lets in-flight requests finish before cutting connections. */
export const CLOSE_GRACE_MS = 2_000;
function buildTable(routes) {
    const table = new Map();
    for (const route of routes) {
        const path = normalisePath(route.path);
        const byMethod = table.get(path) ?? new Map();
        byMethod.set(route.method, route);
        table.set(path, byMethod);
    }
    return table;
}
function digest(value) {
    return createHash('sha256').update(value, 'utf8').digest();
}
/** Patroni's check_auth_header: null when allowed, else the one-line reason for the 401. */
function authFailure(expectedHeaderDigest, header) {
    if (expectedHeaderDigest === null)
        return null;
    if (header === undefined)
        return 'no auth header received';
    // Comparing fixed-size digests keeps the comparison constant-time whatever the lengths.
    return timingSafeEqual(digest(header), expectedHeaderDigest) ? null : 'not authenticated';
}
/** Reads at most `limit` bytes; past it answers 413 at once and drains the rest (bounded by the request timeout). */
function readBody(req, limit) {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > limit) {
        req.resume();
        return Promise.resolve({ ok: false, reply: text(413, `request body larger than ${limit} bytes`) });
    }
    return new Promise((resolve) => {
        const chunks = [];
        let size = 0;
        let settled = false;
        const settle = (value) => {
            if (settled)
                return;
            settled = true;
            resolve(value);
        };
        req.on('data', (chunk) => {
            if (settled)
                return;
            size += chunk.length;
            if (size > limit)
                settle({ ok: false, reply: text(413, `request body larger than ${limit} bytes`) });
            else
                chunks.push(chunk);
        });
        req.on('end', () => settle({ ok: true, raw: Buffer.concat(chunks) }));
        req.on('error', () => settle({ ok: false, reply: text(400, 'request body could not be read') }));
    });
}
async function parseBody(req, route, limit) {
    if (route.body === 'none')
        return { ok: true, body: {} };
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
        return route.body === 'optional' ? { ok: true, body: {} } : { ok: false, reply: text(411, 'a JSON object body with Content-Length is required') };
    }
    const read = await readBody(req, limit);
    if (!read.ok)
        return read;
    const raw = read.raw.toString('utf8');
    if (raw.trim() === '' && route.body === 'optional')
        return { ok: true, body: {} };
    let value;
    try {
        value = JSON.parse(raw);
    }
    catch (error) {
        return { ok: false, reply: text(400, `malformed JSON body: ${error instanceof Error ? error.message : String(error)}`) };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
        return { ok: false, reply: text(400, 'the body must be a JSON object') };
    const body = value;
    if (route.body === 'required' && Object.keys(body).length === 0)
        return { ok: false, reply: text(400, 'the body must be a non-empty JSON object') };
    return { ok: true, body };
}
function withTimeout(work, ms, onTimeout) {
    let timer;
    const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve(onTimeout()), ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
function send(res, reply, headOnly) {
    if (res.headersSent || res.destroyed)
        return;
    const headers = { ...reply.headers };
    let payload = '';
    if (reply.body.kind === 'json') {
        headers['Content-Type'] = 'application/json';
        payload = pyJsonDumps(reply.body.value);
    }
    else if (reply.body.kind === 'text') {
        headers['Content-Type'] = reply.body.contentType ?? 'text/plain; charset=utf-8';
        payload = reply.body.text;
    }
    if (headOnly) {
        res.writeHead(reply.code, { ...reply.headers, 'Content-Length': '0' });
        res.end();
        return;
    }
    headers['Content-Length'] = String(Buffer.byteLength(payload, 'utf8'));
    res.writeHead(reply.code, headers);
    res.end(payload);
}
function splitUrl(url) {
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    return { path: normalisePath(path), query: new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1)) };
}
async function route(req, d) {
    const method = (req.method ?? 'GET').toUpperCase();
    const headOnly = method === 'HEAD' || method === 'OPTIONS';
    const { path, query } = splitUrl(req.url ?? '/');
    const byMethod = d.table.get(path);
    if (byMethod === undefined)
        return { reply: text(404, `no such endpoint: ${path}`), headOnly };
    const chosen = byMethod.get((headOnly ? 'GET' : method));
    if (chosen === undefined) {
        const allow = [...byMethod.keys()].flatMap((m) => (m === 'GET' ? ['GET', 'HEAD', 'OPTIONS'] : [m])).join(', ');
        return { reply: { ...text(405, `${method} is not allowed on ${path}`), headers: { Allow: allow } }, headOnly };
    }
    if (chosen.unsafe) {
        const allowed = d.allowlist === null || (await d.allowlist.allows(req.socket.remoteAddress ?? '', () => d.provider.memberHosts?.() ?? []));
        if (!allowed)
            return { reply: text(403, 'Access is denied'), headOnly };
        const failure = authFailure(d.authDigest, req.headers.authorization);
        if (failure !== null)
            return { reply: { ...text(401, failure), headers: { 'WWW-Authenticate': 'Basic realm="keel"' } }, headOnly };
    }
    const body = await parseBody(req, chosen, d.bodyLimitBytes);
    if (!body.ok)
        return { reply: body.reply, headOnly };
    const work = Promise.resolve(chosen.handle({ path, query, body: body.body, provider: d.provider, nowMs: d.clock() }));
    const reply = await withTimeout(work, d.handlerTimeoutMs, () => text(503, `${method} ${path} timed out after ${d.handlerTimeoutMs} ms`));
    return { reply, headOnly };
}
async function handle(req, res, d) {
    try {
        const { reply, headOnly } = await route(req, d);
        send(res, reply, headOnly);
    }
    catch (error) {
        d.log.error(`REST API: ${req.method ?? '?'} ${req.url ?? '?'} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        try {
            send(res, text(500, `internal error: ${error instanceof Error ? error.message : String(error)}`), false);
        }
        catch {
            res.destroy();
        }
    }
}
function listenHost(host) {
    return host === '' || host === '*' ? undefined : host;
}
function listen(server, at) {
    return new Promise((resolve, reject) => {
        const onError = (error) => {
            reject(new KeelError('api.listen', `cannot serve the REST API on ${at.host}:${at.port}: ${error.code ?? error.message}`, {
                hint: 'check restapi.listen: the address must be local and the port free',
                cause: error,
            }));
        };
        server.once('error', onError);
        server.listen({ host: listenHost(at.host), port: at.port }, () => {
            server.off('error', onError);
            resolve(server.address().port);
        });
    });
}
function closer(server) {
    let closing = null;
    return () => {
        closing ??= new Promise((resolve) => {
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
/** Starts the REST API; resolves once listening. */
export async function startApiServer(options) {
    const auth = options.auth;
    const dispatch = {
        table: buildTable([...patroniRoutes(), ...(options.extraRoutes ?? [])]),
        provider: options.provider,
        allowlist: options.allowlist ?? null,
        authDigest: auth === undefined ? null : digest(`Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`, 'utf8').toString('base64')}`),
        clock: options.clock ?? (() => performance.now()),
        bodyLimitBytes: options.bodyLimitBytes ?? BODY_LIMIT_BYTES,
        handlerTimeoutMs: options.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS,
        log: options.log ?? createLogger({ level: 'info', format: 'text' }),
    };
    const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
        res.on('error', () => undefined);
        void handle(req, res, dispatch);
    });
    const port = await listen(server, options.listen);
    server.on('error', (error) => dispatch.log.error(`REST API server error: ${error.message}`));
    return { port, close: closer(server) };
}
//# sourceMappingURL=server.js.map