/**
 * One HTTP exchange with one etcd endpoint, with a hard timeout (node:http, no library: we need
 * to destroy a hung socket at an exact instant and to read the gateway's streams line by line).
 *
 * Invariants: every request either settles within its timeout or is destroyed; a failure to get
 * an answer at all (refused, reset, timeout) is a TransportError, never an EtcdError; a stale
 * keep-alive socket closed by the server is retried once on a fresh one, within the same timeout.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
/** Largest answer body read into memory (a whole cluster prefix is a few hundred KB at most). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** How long a streaming answer may stay open after its first line before its socket is dropped. */
const STREAM_DRAIN_MS = 1_000;
/** No answer from an endpoint: connection refused or reset, timeout, truncated body. */
export class TransportError extends Error {
    endpoint;
    constructor(endpoint, message, options) {
        super(`${endpoint}: ${message}`, options);
        this.name = 'TransportError';
        this.endpoint = endpoint;
    }
}
export function endpointName(endpoint) {
    return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}
export class EtcdHttp {
    agent;
    protocol;
    constructor(protocol) {
        this.protocol = protocol;
        const options = { keepAlive: true, maxSockets: 16, maxFreeSockets: 4 };
        this.agent = protocol === 'https' ? new HttpsAgent(options) : new HttpAgent(options);
    }
    close() {
        this.agent.destroy();
    }
    /**
     * GET or POST `path` on `endpoint`. With `firstLine`, the answer is complete at the first
     * newline (the gateway's streaming endpoints, e.g. lease keepalive, send one JSON per line).
     */
    async exchange(endpoint, method, path, body, headers, timeoutMs, firstLine = false) {
        const deadline = performance.now() + timeoutMs;
        try {
            return await this.once(endpoint, method, path, body, headers, timeoutMs, firstLine);
        }
        catch (error) {
            const remaining = deadline - performance.now();
            if (!(error instanceof StaleSocketError) || remaining <= 0)
                throw unwrapStale(error);
            return this.once(endpoint, method, path, body, headers, remaining, firstLine).catch((retryError) => {
                throw unwrapStale(retryError);
            });
        }
    }
    once(endpoint, method, path, body, headers, timeoutMs, firstLine) {
        const name = endpointName(endpoint);
        const payload = body === undefined ? undefined : JSON.stringify(body);
        return new Promise((resolve, reject) => {
            let settled = false;
            const finish = (error, answer) => {
                if (settled)
                    return;
                settled = true;
                clearTimeout(timer);
                if (error !== null) {
                    req.destroy();
                    reject(error);
                }
                else if (answer !== undefined) {
                    resolve(answer);
                }
            };
            const req = this.request(endpoint, {
                method,
                path,
                headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
            });
            const timer = setTimeout(() => finish(new TransportError(name, `no answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
            req.on('error', (error) => {
                const transport = new TransportError(name, error.message, { cause: error });
                finish(req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE') ? new StaleSocketError(transport) : transport);
            });
            req.on('response', (res) => readAnswer(res, name, firstLine, finish));
            req.end(payload);
        });
    }
    /** Opens a long-lived POST (a watch) on its own connection; the caller reads and destroys it. */
    openStream(endpoint, path, body, headers) {
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
    request(endpoint, options) {
        const full = { agent: this.agent, ...options, host: endpoint.host, port: endpoint.port };
        return this.protocol === 'https' ? httpsRequest(full) : httpRequest(full);
    }
}
class StaleSocketError extends Error {
    transport;
    constructor(transport) {
        super(transport.message);
        this.transport = transport;
    }
}
function unwrapStale(error) {
    return error instanceof StaleSocketError ? error.transport : error;
}
function readAnswer(res, name, firstLine, finish) {
    const status = res.statusCode ?? 0;
    const chunks = [];
    let size = 0;
    let answered = false;
    res.on('data', (chunk) => {
        if (answered)
            return;
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
//# sourceMappingURL=etcd-http.js.map