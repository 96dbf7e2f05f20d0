/**
 * Reading one watch stream of etcd's JSON gateway: newline-delimited {"result": WatchResponse}
 * messages, or {"error": {...}} when the stream fails. The stream ends when the server closes it,
 * when etcd cancels the watch (compaction, or another reason), or when the caller aborts.
 * Invariant: the promise settles exactly once and the request is destroyed when it does.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { EtcdError, errorFromBody, interpretAnswer } from './etcd-errors.js';
import { TransportError } from './etcd-http.js';
import { asObject, decodeWatchResult, type WatchResponse } from './etcd-wire.js';

/** Why a watch stream ended without an error. */
export type WatchEnd =
  { reason: 'aborted' } | { reason: 'closed' } | { reason: 'canceled'; message: string } | { reason: 'compacted'; compactRevision: number };

/** Largest single watch message accepted (a message holds the events of one revision). */
const MAX_WATCH_LINE_BYTES = 64 * 1024 * 1024;

/** Reads a watch stream line by line until it ends; see EtcdClient.watch. */
export function readWatchStream(
  stream: ClientRequest,
  endpoint: string,
  connectTimeoutMs: number,
  onResponse: (response: WatchResponse) => void,
  signal: AbortSignal,
): Promise<WatchEnd> {
  return new Promise<WatchEnd>((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | null, end?: WatchEnd): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      signal.removeEventListener('abort', onAbort);
      stream.destroy();
      if (error !== null) reject(error);
      else if (end !== undefined) resolve(end);
    };
    const onAbort = (): void => settle(null, { reason: 'aborted' });
    signal.addEventListener('abort', onAbort);
    const connectTimer = setTimeout(
      () => settle(new TransportError(endpoint, `watch not established within ${Math.round(connectTimeoutMs)} ms`)),
      connectTimeoutMs,
    );
    stream.on('error', (error) => settle(TransportError.from(endpoint, error)));
    stream.on('response', (res: IncomingMessage) => {
      if ((res.statusCode ?? 0) >= 400) {
        readErrorBody(res, endpoint, (error) => settle(error));
        return;
      }
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        if (buffered.length > MAX_WATCH_LINE_BYTES) {
          settle(new TransportError(endpoint, `watch message larger than ${MAX_WATCH_LINE_BYTES} bytes`));
          return;
        }
        let newline = buffered.indexOf('\n');
        while (newline >= 0 && !settled) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line !== '') handleWatchLine(line, endpoint, onResponse, settle, () => clearTimeout(connectTimer));
          newline = buffered.indexOf('\n');
        }
      });
      res.on('end', () => settle(null, { reason: 'closed' }));
      res.on('close', () => settle(new TransportError(endpoint, 'watch stream cut off')));
    });
  });
}

function handleWatchLine(
  line: string,
  endpoint: string,
  onResponse: (response: WatchResponse) => void,
  settle: (error: Error | null, end?: WatchEnd) => void,
  established: () => void,
): void {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    settle(new EtcdError('bad_response', `${endpoint}: watch message is not JSON: ${line.slice(0, 200)}`, { endpoint }));
    return;
  }
  const error = errorFromBody(message, 0, endpoint);
  if (error !== null) {
    settle(error);
    return;
  }
  const response = decodeWatchResult(asObject(message)['result']);
  if (response.created) established();
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
  } catch (error) {
    settle(error instanceof Error ? error : new Error(String(error)));
  }
}

function readErrorBody(res: IncomingMessage, endpoint: string, done: (error: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => {
    try {
      interpretAnswer({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }, endpoint);
      done(new EtcdError('bad_response', `${endpoint}: watch refused with HTTP ${res.statusCode ?? 0}`, { endpoint }));
    } catch (error) {
      done(error instanceof Error ? error : new Error(String(error)));
    }
  });
  res.on('error', (error) => done(new TransportError(endpoint, error.message, { cause: error })));
}
