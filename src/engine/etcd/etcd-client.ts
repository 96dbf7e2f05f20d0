/**
 * A small etcd v3 client over etcd's JSON gRPC gateway (the same wire Patroni 3.0.2 uses).
 *
 * Invariants:
 *  - every call has one overall deadline (`requestTimeoutMs`, kept <= retry_timeout by the
 *    caller); within it, an endpoint that does not answer (refused, reset, timeout, or etcd says
 *    Unavailable / DeadlineExceeded) is skipped for the next one, and the last endpoint that
 *    answered is tried first next time. When the deadline passes without an answer the call
 *    throws DcsUnavailableError; an answer that is an error throws EtcdError.
 *  - a retried write may have been applied by the endpoint that timed out: callers make their
 *    writes either idempotent or transactions whose failure they can explain (see EtcdDcs).
 *  - with a username and password, a token from /v3/auth/authenticate is sent in the
 *    Authorization header and renewed once when etcd rejects it.
 *  - over https the server is verified against `tls.ca` (else the system's CAs) and `tls.cert` /
 *    `tls.key` are presented when etcd wants client certificates (--client-cert-auth). When a
 *    whole round of endpoints fails TLS (e.g. a wrong CA) the call stops at once with
 *    DcsUnavailableError naming the TLS failure rather than retrying until its deadline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TlsFileError, readTlsMaterial, type TlsFiles } from '../../config/tls-files.js';
import type { HostPort } from '../../config/types.js';
import { DcsUnavailableError, EtcdError, interpretAnswer } from './etcd-errors.js';
import { EtcdHttp, TransportError, endpointName, type Protocol } from './etcd-http.js';
import { requestBytes } from './http1-exchange.js';
import { reportEtcdRequest } from './etcd-observer.js';
import { readWatchStream, type WatchEnd } from './etcd-watch-stream.js';
import {
  asArray,
  asObject,
  b64,
  decodeKeyValue,
  decodeResponseOp,
  encodeCompare,
  encodeOp,
  encodePut,
  encodeRange,
  headerRevision,
  int64,
  leaseId,
  prefixRangeEnd,
  type Compare,
  type JsonObject,
  type KeyValue,
  type RequestOp,
  type ResponseOp,
  type WatchResponse,
} from './etcd-wire.js';

export type { WatchEnd } from './etcd-watch-stream.js';

export interface EtcdClientOptions {
  endpoints: HostPort[];
  protocol?: Protocol;
  username?: string;
  password?: string;
  /** Paths of the CA bundle, client certificate and key (Patroni's etcd cacert / cert / key); read once, here. */
  tls?: Pick<TlsFiles, 'ca' | 'cert' | 'key'>;
  /** Overall deadline of one call across all endpoints (ms). */
  requestTimeoutMs: number;
  /** Shortest timeout given to one endpoint while time remains (ms); default 1000 (Patroni's). */
  minAttemptTimeoutMs?: number;
  /** API prefix ('/v3', '/v3beta', '/v3alpha'); detected from GET /version when absent. */
  apiPrefix?: string;
}

export interface CallOptions {
  /** Overrides the client's deadline for this call (ms). */
  timeoutMs?: number;
}

export interface RangeOptions extends CallOptions {
  /** Every key starting with `key`. */
  prefix?: boolean;
  /** Read at this revision (0 = latest). */
  revision?: number;
  /** Serve from the endpoint's local state without a quorum round (may be stale). */
  serializable?: boolean;
  limit?: number;
}

export interface RangeResult {
  revision: number;
  kvs: KeyValue[];
  count: number;
  more: boolean;
}

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure?: RequestOp[];
}

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  responses: ResponseOp[];
}

export interface WatchRequest {
  key: string;
  prefix?: boolean;
  /** First revision to report (inclusive); 0 or absent = from now on. */
  startRevision?: number;
  progressNotify?: boolean;
}

/** Named limits of the retry loop. */
const MAX_ROUNDS = 1_000;
const ROUND_PAUSE_FIRST_MS = 50;
const ROUND_PAUSE_MAX_MS = 1_000;
const DEFAULT_MIN_ATTEMPT_MS = 1_000;
/** Requests that may be sent to two endpoints at once: repeating them changes nothing. */
const IDEMPOTENT_PATHS = new Set(['/kv/range', '/lease/keepalive']);
/** An idempotent request not answered this soon is also sent to the next endpoint (see `round`). */
const HEDGE_AFTER_MS = 300;

/** What one round over the endpoints gave: an answer, or why each endpoint failed. */
type RoundOutcome = { answer: JsonObject } | { failures: string[]; tlsFailures: number };

export class EtcdClient {
  private readonly endpoints: HostPort[];
  private readonly http: EtcdHttp;
  private readonly protocol: Protocol;
  private readonly username: string | undefined;
  private readonly password: string | undefined;
  private readonly minAttemptMs: number;
  private requestTimeoutMs: number;
  private apiPrefix: string | null;
  /** Index of the endpoint tried first (the last one that answered). */
  private preferred = 0;
  /** Auth token, null when auth is off or not obtained yet. */
  private token: string | null = null;
  private authChecked = false;
  /** quorumReadRequest's last answer and what it was built from. */
  private lastQuorumRead: { inputs: string; value: { endpoints: HostPort[]; request: Buffer } } | null = null;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError('EtcdClient needs at least one endpoint');
    this.endpoints = [...options.endpoints];
    this.protocol = options.protocol ?? 'http';
    this.http = new EtcdHttp(this.protocol, options.protocol === 'https' ? readEtcdTls(options.tls ?? {}) : {});
    this.username = options.username;
    this.password = options.password;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.minAttemptMs = options.minAttemptTimeoutMs ?? DEFAULT_MIN_ATTEMPT_MS;
    this.apiPrefix = options.apiPrefix ?? null;
  }

  /** Changes the deadline of later calls (e.g. when retry_timeout changes in the dynamic config). */
  setRequestTimeout(ms: number): void {
    this.requestTimeoutMs = ms;
  }

  /** The endpoint the next call tries first. */
  get currentEndpoint(): HostPort {
    return this.endpoints[this.preferred] ?? (this.endpoints[0] as HostPort);
  }

  close(): void {
    this.http.close();
  }

  async range(key: string, options: RangeOptions = {}): Promise<RangeResult> {
    const body = encodeRange(key, options.prefix);
    if (options.revision !== undefined && options.revision > 0) body['revision'] = String(options.revision);
    if (options.serializable === true) body['serializable'] = true;
    if (options.limit !== undefined) body['limit'] = String(options.limit);
    const answer = await this.call('/kv/range', body, options);
    return {
      revision: headerRevision(answer),
      kvs: asArray(answer['kvs']).map(decodeKeyValue),
      count: int64(answer['count']),
      more: answer['more'] === true,
    };
  }

  /**
   * One linearizable read of `key` (keys only, at most one) as this client would send it, token
   * included: the bytes a prober outside Node sends (keel-fence's isolation probe), with the
   * endpoints to send them to, the preferred one first. Null over https (the prober has no TLS)
   * and before the first call has learnt the API prefix.
   */
  quorumReadRequest(key: string): { endpoints: HostPort[]; request: Buffer } | null {
    if (this.protocol !== 'http' || this.apiPrefix === null) return null;
    // Built again only when what it is made of changes: the isolation watch asks every cycle, and
    // building it each time was a measurable part of an idle leader's cost (issue 12).
    const inputs = `${key}\n${this.preferred}\n${this.apiPrefix}\n${this.token ?? ''}`;
    if (this.lastQuorumRead?.inputs === inputs) return this.lastQuorumRead.value;
    const endpoints = [...this.endpoints.slice(this.preferred), ...this.endpoints.slice(0, this.preferred)];
    const body = { ...encodeRange(key), limit: '1', keys_only: true };
    const value = { endpoints, request: requestBytes('POST', `${this.apiPrefix}/kv/range`, endpoints[0] as HostPort, this.headers(), JSON.stringify(body)) };
    this.lastQuorumRead = { inputs, value };
    return value;
  }

  async put(key: string, value: string, options: CallOptions & { lease?: string | null } = {}): Promise<{ revision: number }> {
    const answer = await this.call('/kv/put', encodePut(key, value, options.lease), options);
    return { revision: headerRevision(answer) };
  }

  async deleteRange(key: string, options: CallOptions & { prefix?: boolean } = {}): Promise<{ revision: number; deleted: number }> {
    const answer = await this.call('/kv/deleterange', encodeRange(key, options.prefix), options);
    return { revision: headerRevision(answer), deleted: int64(answer['deleted']) };
  }

  async txn(request: TxnRequest, options: CallOptions = {}): Promise<TxnResult> {
    const body = {
      compare: request.compare.map(encodeCompare),
      success: request.success.map(encodeOp),
      failure: (request.failure ?? []).map(encodeOp),
    };
    const answer = await this.call('/kv/txn', body, options);
    return {
      succeeded: answer['succeeded'] === true,
      revision: headerRevision(answer),
      responses: asArray(answer['responses']).map(decodeResponseOp),
    };
  }

  async leaseGrant(ttlS: number, options: CallOptions = {}): Promise<{ id: string; ttlS: number }> {
    const answer = await this.call('/lease/grant', { TTL: String(ttlS) }, options);
    const error = typeof answer['error'] === 'string' ? answer['error'] : '';
    const id = leaseId(answer['ID']);
    if (error !== '' || id === null) throw new EtcdError('other', `lease grant refused: ${error || 'no lease ID in the answer'}`);
    return { id, ttlS: int64(answer['TTL']) };
  }

  /**
   * One keepalive (the gateway's bidirectional stream used for a single request). Returns the
   * lease's TTL in seconds as etcd answered it, 0 when the lease no longer exists.
   */
  async leaseKeepAlive(id: string, options: CallOptions = {}): Promise<number> {
    return (await this.leaseKeepAliveWithRevision(id, options)).ttlS;
  }

  /** leaseKeepAlive, with the store revision the answering member had reached (its header). */
  async leaseKeepAliveWithRevision(id: string, options: CallOptions = {}): Promise<{ ttlS: number; revision: number }> {
    const answer = await this.call('/lease/keepalive', { ID: id }, options, true);
    const result = asObject(answer['result']);
    return { ttlS: Math.max(0, int64(result['TTL'])), revision: headerRevision(result) };
  }

  /** Revokes a lease (its keys are deleted). Returns false when it did not exist. */
  async leaseRevoke(id: string, options: CallOptions = {}): Promise<boolean> {
    try {
      // etcd 3.4+ maps LeaseRevoke to /v3/lease/revoke; 3.3 and older only to /kv/lease/revoke.
      await this.callWithRouteFallback(['/lease/revoke', '/kv/lease/revoke'], { ID: id }, options);
      return true;
    } catch (error) {
      if (error instanceof EtcdError && error.kind === 'lease_not_found') return false;
      throw error;
    }
  }

  /** Remaining and granted TTL (s) of a lease; remaining is -1 when it does not exist. */
  async leaseTimeToLive(id: string, options: CallOptions = {}): Promise<{ ttlS: number; grantedTtlS: number }> {
    const answer = await this.callWithRouteFallback(['/lease/timetolive', '/kv/lease/timetolive'], { ID: id }, options);
    return { ttlS: int64(answer['TTL']), grantedTtlS: int64(answer['grantedTTL']) };
  }

  /**
   * Opens one watch stream on the preferred endpoint and delivers every message to `onResponse`
   * until the stream ends, etcd cancels the watch, or `signal` aborts. Throws TransportError /
   * DcsUnavailableError when the stream cannot be opened or breaks (the endpoint is then skipped
   * next time) and EtcdError for an error answer; the caller decides whether and when to retry.
   */
  async watch(request: WatchRequest, onResponse: (response: WatchResponse) => void, signal: AbortSignal): Promise<WatchEnd> {
    if (signal.aborted) return { reason: 'aborted' };
    const deadline = performance.now() + this.requestTimeoutMs;
    await this.ensureAuth(deadline);
    const index = this.preferred;
    const endpoint = this.endpoints[index] as HostPort;
    const createRequest: JsonObject = { key: b64(request.key) };
    if (request.prefix === true) createRequest['range_end'] = prefixRangeEnd(request.key).toString('base64');
    if (request.startRevision !== undefined && request.startRevision > 0) createRequest['start_revision'] = String(request.startRevision);
    if (request.progressNotify === true) createRequest['progress_notify'] = true;
    try {
      const prefix = await this.ensurePrefix(endpoint, Math.max(1, deadline - performance.now()));
      const stream = this.http.openStream(endpoint, `${prefix}/watch`, { create_request: createRequest }, this.headers());
      return await readWatchStream(stream, endpointName(endpoint), Math.max(1, deadline - performance.now()), onResponse, signal);
    } catch (error) {
      if (error instanceof TransportError || (error instanceof EtcdError && error.endpointFailure)) this.skip(index);
      if (error instanceof EtcdError && this.hasCredentials() && (error.kind === 'invalid_auth_token' || error.kind === 'user_empty')) {
        this.token = null; // authenticate again before the next stream
        this.authChecked = false;
      }
      throw error;
    }
  }

  // ---- call machinery ----

  private async callWithRouteFallback(paths: string[], body: JsonObject, options: CallOptions): Promise<JsonObject> {
    let lastError: unknown = null;
    for (const path of paths) {
      try {
        return await this.call(path, body, options);
      } catch (error) {
        if (!(error instanceof EtcdError && error.kind === 'route_not_found')) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  private async call(path: string, body: JsonObject, options: CallOptions, firstLine = false): Promise<JsonObject> {
    const deadline = performance.now() + (options.timeoutMs ?? this.requestTimeoutMs);
    await this.ensureAuth(deadline);
    try {
      return await this.callWithFailover(path, body, deadline, firstLine);
    } catch (error) {
      if (!(error instanceof EtcdError) || !this.hasCredentials() || !['invalid_auth_token', 'user_empty'].includes(error.kind)) throw error;
      // The token expired (simple tokens live 5 minutes without use) or etcd restarted.
      this.token = null;
      this.authChecked = false;
      await this.ensureAuth(deadline);
      return this.callWithFailover(path, body, deadline, firstLine);
    }
  }

  private async callWithFailover(path: string, body: JsonObject, deadline: number, firstLine: boolean): Promise<JsonObject> {
    const failures: string[] = [];
    const started = performance.now();
    const hedgeAfterMs = IDEMPOTENT_PATHS.has(path) ? HEDGE_AFTER_MS : null;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const count = this.endpoints.length;
      const outcome = await this.round(path, body, deadline, firstLine, hedgeAfterMs);
      if ('answer' in outcome) return outcome.answer;
      failures.push(...outcome.failures);
      // Retrying does not fix a certificate: say so now instead of at the deadline.
      if (outcome.tlsFailures === count) throw new DcsUnavailableError(`TLS failed with every etcd endpoint (${path}): ${failures.slice(-count).join('; ')}`);
      const remaining = deadline - performance.now();
      if (remaining <= 1) break;
      await sleep(Math.min(remaining, ROUND_PAUSE_FIRST_MS * 2 ** Math.min(round, 5), ROUND_PAUSE_MAX_MS));
    }
    const tried = this.endpoints.map(endpointName).join(', ');
    const last = failures.slice(-this.endpoints.length).join('; ');
    throw new DcsUnavailableError(`no etcd endpoint answered ${path} within ${Math.round(performance.now() - started)} ms (tried ${tried}): ${last}`);
  }

  /**
   * One try of every endpoint, from the preferred one: the next endpoint is asked when one fails
   * and, with `hedgeAfterMs` (idempotent requests: a read, a lease keepalive), also alongside when
   * the ones asked have not answered that soon. The first answer wins and becomes the preferred
   * endpoint; losing attempts run on to their own timeout, unread. Hedging exists because a member
   * cut off from its quorum holds a linearizable request until the attempt's timeout (1.3 s at
   * retry_timeout 4 with three endpoints): measured in bench/chaos, replica-isolated, where the
   * leader's agent used the etcd member of the isolated host and its synchronous standby change
   * waited for that timeout. A write is never sent twice (a repeated compare-and-swap would report
   * failure for a write that succeeded).
   */
  private round(path: string, body: JsonObject, deadline: number, firstLine: boolean, hedgeAfterMs: number | null): Promise<RoundOutcome> {
    const count = this.endpoints.length;
    const first = this.preferred;
    const failures: string[] = [];
    let tlsFailures = 0;
    return new Promise<RoundOutcome>((resolve, reject) => {
      let started = 0;
      let running = 0;
      let settled = false;
      let hedge: ReturnType<typeof setTimeout> | null = null;
      const settle = (finish: () => void): void => {
        settled = true;
        if (hedge !== null) clearTimeout(hedge);
        finish();
      };
      const launch = (): void => {
        if (settled) return;
        if (hedge !== null) clearTimeout(hedge);
        hedge = null;
        const remaining = deadline - performance.now();
        if (started >= count || remaining <= 0) {
          if (running === 0) settle(() => resolve({ failures, tlsFailures }));
          return;
        }
        const index = (first + started) % count;
        const attemptMs = Math.min(remaining, Math.max(this.minAttemptMs, remaining / (count - started)));
        started += 1;
        running += 1;
        this.attempt(index, path, body, attemptMs, firstLine).then(
          (answer) => {
            running -= 1;
            if (settled) return;
            this.preferred = index;
            settle(() => resolve({ answer }));
          },
          (error: unknown) => {
            running -= 1;
            if (settled) return;
            if (!isEndpointFailure(error)) {
              settle(() => reject(error));
              return;
            }
            failures.push(error instanceof Error ? error.message : String(error));
            if (error instanceof TransportError && error.tls) tlsFailures += 1;
            this.skip(index);
            launch();
          },
        );
        if (hedgeAfterMs !== null && started < count) hedge = setTimeout(launch, hedgeAfterMs);
      };
      launch();
    });
  }

  private skip(index: number): void {
    if (this.preferred === index) this.preferred = (index + 1) % this.endpoints.length;
  }

  private async attempt(index: number, path: string, body: JsonObject, timeoutMs: number, firstLine: boolean): Promise<JsonObject> {
    const endpoint = this.endpoints[index] as HostPort;
    const startedMs = performance.now();
    const attemptDeadline = startedMs + timeoutMs;
    try {
      const prefix = await this.ensurePrefix(endpoint, timeoutMs);
      const remaining = Math.max(1, attemptDeadline - performance.now());
      const answer = await this.http.exchange(endpoint, 'POST', prefix + path, body, this.headers(), remaining, firstLine);
      const interpreted = interpretAnswer(answer, endpointName(endpoint));
      reportEtcdRequest(path, performance.now() - startedMs, null);
      return interpreted;
    } catch (error) {
      reportEtcdRequest(path, performance.now() - startedMs, error);
      throw error;
    }
  }

  private headers(): Record<string, string> {
    return this.token === null ? {} : { authorization: this.token };
  }

  private hasCredentials(): boolean {
    return this.username !== undefined && this.username !== '' && this.password !== undefined;
  }

  /** Detects the gateway's API prefix from GET /version, once per client (like Patroni). */
  private async ensurePrefix(endpoint: HostPort, timeoutMs: number): Promise<string> {
    if (this.apiPrefix !== null) return this.apiPrefix;
    const answer = interpretAnswer(await this.http.exchange(endpoint, 'GET', '/version', undefined, {}, timeoutMs), endpointName(endpoint));
    const cluster = parseVersion(answer['etcdcluster']) ?? parseVersion(answer['etcdserver']);
    if (cluster === null) throw new EtcdError('bad_response', `cannot read the etcd version from ${JSON.stringify(answer)}`);
    const [major = 0, minor = 0] = cluster;
    if (major < 3) throw new EtcdError('other', `etcd ${cluster.join('.')} has no v3 API; keel needs etcd >= 3.0.4`);
    this.apiPrefix = major > 3 || minor >= 4 ? '/v3' : minor === 3 ? '/v3beta' : '/v3alpha';
    return this.apiPrefix;
  }

  /** Obtains a token when credentials are configured and etcd has auth enabled. */
  private async ensureAuth(deadline: number): Promise<void> {
    if (this.authChecked || !this.hasCredentials()) return;
    try {
      const answer = await this.callWithFailover('/auth/authenticate', { name: this.username, password: this.password }, deadline, false);
      this.token = typeof answer['token'] === 'string' && answer['token'] !== '' ? answer['token'] : null;
    } catch (error) {
      if (!(error instanceof EtcdError && error.kind === 'auth_not_enabled')) throw error;
      this.token = null;
    }
    this.authChecked = true;
  }
}

function readEtcdTls(files: TlsFiles) {
  try {
    return readTlsMaterial(files);
  } catch (error) {
    if (error instanceof TlsFileError) throw new EtcdError('other', `etcd TLS: ${error.message}`);
    throw error;
  }
}

function isEndpointFailure(error: unknown): boolean {
  return error instanceof TransportError || (error instanceof EtcdError && error.endpointFailure);
}

function parseVersion(value: unknown): number[] | null {
  if (typeof value !== 'string' || !/^\d+\.\d+/.test(value)) return null;
  return value.split('.').map((part) => Number.parseInt(part, 10));
}
