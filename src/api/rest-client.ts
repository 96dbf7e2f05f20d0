/**
 * One HTTP(S) request to a member's REST API, as Patroni's PatroniRequest makes it: basic auth
 * from the settings, the members' certificates verified against the configured CA (or not, when
 * insecure), a client certificate presented when configured. Shared by the agent's peer client
 * and the CLI's MemberApi, so both behave the same against an https member.
 *
 * Invariants: every request settles within its deadline (connect, TLS handshake and body
 * included; the socket is destroyed then); the TLS files are read once, when the client is made;
 * a failure is a RestRequestError with one line that names a TLS problem as such.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Credentials } from '../config/types.js';
import type { RestClientSettings } from '../config/rest-client-settings.js';
import { TlsFileError, readTlsMaterial } from '../config/tls-files.js';
import { KeelError } from '../errors.js';
import { tlsFailure } from '../engine/tls-errors.js';

/** Largest answer read (a /cluster or /history answer is a few KB). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export interface RestAnswer {
  status: number;
  text: string;
}

export interface RestRequest {
  method: string;
  /** Sent as the body with Content-Type application/json when given. */
  json?: unknown;
  timeoutMs: number;
  /** Basic-auth credentials: absent = the client's (Patroni sends them with every request), null = none. */
  auth?: Credentials | null;
}

/** No answer: refused, timed out, TLS failure, cut-off body. `tls` is set for TLS failures. */
export class RestRequestError extends Error {
  constructor(
    message: string,
    readonly tls: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RestRequestError';
  }
}

function basicAuth(auth: Credentials): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`, 'utf8').toString('base64')}`;
}

function httpsAgentFor(settings: Omit<RestClientSettings, 'auth'>): HttpsAgent {
  let material;
  try {
    material = readTlsMaterial({ ca: settings.cafile, cert: settings.certfile, key: settings.keyfile, passphrase: settings.keyfilePassword });
  } catch (error) {
    if (error instanceof TlsFileError)
      throw new KeelError('api.tls_file', `REST client TLS: ${error.message}`, {
        hint: 'check ctl.cacert/certfile/keyfile and restapi.cafile/certfile/keyfile',
      });
    throw error;
  }
  const withCert = material.cert !== undefined;
  return new HttpsAgent({
    keepAlive: false,
    ...material,
    // PatroniRequest: with a client certificate the chain is always verified, insecure only skips the host name
    rejectUnauthorized: withCert || !settings.insecure,
    ...(settings.insecure && withCert ? { checkServerIdentity: () => undefined } : {}),
  });
}

export class RestClient {
  private readonly auth: Credentials | undefined;
  private readonly httpAgent = new HttpAgent({ keepAlive: false });
  private readonly httpsAgent: HttpsAgent;

  constructor(settings: RestClientSettings = { insecure: false }) {
    this.auth = settings.auth;
    this.httpsAgent = httpsAgentFor(settings);
  }

  request(url: URL, req: RestRequest): Promise<RestAnswer> {
    const payload = req.json === undefined ? undefined : JSON.stringify(req.json);
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const auth = req.auth === undefined ? this.auth : (req.auth ?? undefined);
    if (auth !== undefined) headers['authorization'] = basicAuth(auth);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new RestRequestError(`${req.method} ${url.href}: not an http(s) URL`, false));
    }
    const https = url.protocol === 'https:';
    const options: RequestOptions = { method: req.method, headers, agent: https ? this.httpsAgent : this.httpAgent };
    return new Promise<RestAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null, answer?: RestAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === null && answer !== undefined) {
          resolve(answer);
          return;
        }
        request.destroy();
        const tls = tlsFailure(error);
        const detail = tls?.message ?? (error?.message || (error as NodeJS.ErrnoException | null)?.code || 'failed');
        reject(new RestRequestError(`${req.method} ${url.href}: ${detail}`, tls !== null, { cause: error }));
      };
      const request = (https ? httpsRequest : httpRequest)(url, options);
      const timer = setTimeout(() => finish(new Error(`no answer within ${req.timeoutMs} ms`)), req.timeoutMs);
      request.on('error', (error) => finish(error));
      request.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) finish(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error) => finish(error));
        res.on('close', () => finish(new Error('answer cut off')));
      });
      request.end(payload);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
