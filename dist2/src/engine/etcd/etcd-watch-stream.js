import { EtcdError, errorFromBody, interpretAnswer } from './etcd-errors.js';
import { TransportError } from './etcd-http.js';
import { asObject, decodeWatchResult } from './etcd-wire.js';
/** Largest single watch message accepted (a message holds the events of one revision). */
const MAX_WATCH_LINE_BYTES = 64 * 1024 * 1024;
/** Reads a watch stream line by line until it ends; see EtcdClient.watch. */
export function readWatchStream(stream, endpoint, connectTimeoutMs, onResponse, signal) {
    return new Promise((resolve, reject) => {
        let settled = false;
        const settle = (error, end) => {
            if (settled)
                return;
            settled = true;
            clearTimeout(connectTimer);
            signal.removeEventListener('abort', onAbort);
            stream.destroy();
            if (error !== null)
                reject(error);
            else if (end !== undefined)
                resolve(end);
        };
        const onAbort = () => settle(null, { reason: 'aborted' });
        signal.addEventListener('abort', onAbort);
        const connectTimer = setTimeout(() => settle(new TransportError(endpoint, `watch not established within ${Math.round(connectTimeoutMs)} ms`)), connectTimeoutMs);
        stream.on('error', (error) => settle(new TransportError(endpoint, error.message, { cause: error })));
        stream.on('response', (res) => {
            if ((res.statusCode ?? 0) >= 400) {
                readErrorBody(res, endpoint, (error) => settle(error));
                return;
            }
            let buffered = '';
            res.setEncoding('utf8');
            res.on('data', (chunk) => {
                buffered += chunk;
                if (buffered.length > MAX_WATCH_LINE_BYTES) {
                    settle(new TransportError(endpoint, `watch message larger than ${MAX_WATCH_LINE_BYTES} bytes`));
                    return;
                }
                let newline = buffered.indexOf('\n');
                while (newline >= 0 && !settled) {
                    const line = buffered.slice(0, newline).trim();
                    buffered = buffered.slice(newline + 1);
                    if (line !== '')
                        handleWatchLine(line, endpoint, onResponse, settle, () => clearTimeout(connectTimer));
                    newline = buffered.indexOf('\n');
                }
            });
            res.on('end', () => settle(null, { reason: 'closed' }));
            res.on('close', () => settle(new TransportError(endpoint, 'watch stream cut off')));
        });
    });
}
function handleWatchLine(line, endpoint, onResponse, settle, established) {
    let message;
    try {
        message = JSON.parse(line);
    }
    catch {
        settle(new EtcdError('bad_response', `${endpoint}: watch message is not JSON: ${line.slice(0, 200)}`, { endpoint }));
        return;
    }
    const error = errorFromBody(message, 0, endpoint);
    if (error !== null) {
        settle(error);
        return;
    }
    const response = decodeWatchResult(asObject(message)['result']);
    if (response.created)
        established();
    if (response.compactRevision > 0) {
        settle(null, { reason: 'compacted', compactRevision: response.compactRevision });
        return;
    }
    if (response.canceled) {
        settle(null, { reason: 'canceled', message: response.cancelReason });
        return;
    }
    try {
        onResponse(response);
    }
    catch (error) {
        settle(error instanceof Error ? error : new Error(String(error)));
    }
}
function readErrorBody(res, endpoint, done) {
    const chunks = [];
    res.on('data', (chunk) => chunks.push(chunk));
    res.on('end', () => {
        try {
            interpretAnswer({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }, endpoint);
            done(new EtcdError('bad_response', `${endpoint}: watch refused with HTTP ${res.statusCode ?? 0}`, { endpoint }));
        }
        catch (error) {
            done(error instanceof Error ? error : new Error(String(error)));
        }
    });
    res.on('error', (error) => done(new TransportError(endpoint, error.message, { cause: error })));
}
//# sourceMappingURL=etcd-watch-stream.js.map