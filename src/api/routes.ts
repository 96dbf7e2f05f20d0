/**
 * The REST API's routes as one table: method + exact path -> handler. The server (server.ts)
 * owns HTTP (parsing, auth, body limits, errors); a route only turns a parsed request into a
 * Reply. Adding an endpoint (e.g. GET /metrics) is adding a Route, passed to startApiServer
 * as `extraRoutes` or appended here.
 *
 * Patroni 3.0.2 facts kept here: GET /patroni always answers 200 with the status JSON; the
 * health endpoints answer their health code with the same JSON (liveness and readiness with no
 * body); GET /config answers 502 when the DCS has no config; every unsafe method (POST, PUT,
 * PATCH, DELETE) requires authentication; the request bodies of POST /restart and
 * /reinitialize are optional, the others' must be a non-empty JSON object. An operation the
 * agent does not implement yet answers 501 with Python's 501 explanation in the text, which
 * makes patronictl retry a switchover as POST /failover, as it does with old Patroni versions.
 *
 * Deliberate differences from Patroni 3.0.2: HEAD and OPTIONS on any GET route answer that
 * route's code (Patroni sends every HEAD/OPTIONS through its generic health rules, so e.g.
 * HEAD /liveness or HEAD /patroni answer 503 there); an unknown path answers 404 (Patroni: 503
 * for GET, 501 for other methods); a known path with another method answers 405.
 */
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { HEALTH_PATHS, healthResponse, patroniStatusJson, type NodeStatus } from './status.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type JsonObject = Record<string, unknown>;

/** What an operation hook answers: a one-line text (Patroni answers text/html) or a JSON value. */
export type OperationResult = { code: number; text: string } | { code: number; json: unknown };

/**
 * Implemented by the agent. getStatus() is called for every status/health request and must be
 * cheap and synchronous. An absent operation hook answers 501.
 */
export interface ApiProvider {
  getStatus(): NodeStatus;
  /** The status with WAL positions read now rather than at the last cycle (GET /patroni); absent: getStatus. */
  getStatusWithWalNow?(): Promise<NodeStatus>;
  /** GET /cluster body (Patroni's cluster_as_json of a fresh DCS read). */
  getClusterJson(): Promise<unknown>;
  /** GET /history?details body: keel's failover records (ha/core/failover-record.ts), [] when none. */
  getFailoverRecords?(): Promise<unknown>;
  /** GET /history body: the history key's lines, [] when none. */
  getHistory(): Promise<unknown>;
  /** GET /config body: the DCS config key; null when there is none (answered with 502). */
  getConfig(): Promise<unknown>;
  /** GET /metrics body: Prometheus text exposition (api/metrics.ts); absent answers 501. */
  getMetrics?(): Promise<string>;
  /** GET /decisions body: a member's recent decisions (null: this member); null when that member did not answer (502). */
  getDecisions?(member: string | null): Promise<unknown>;
  /** GET /explain body: for each member, whether it would take over now and why (keel explain); null when the DCS cannot be read (502). */
  getExplain?(): Promise<unknown>;
  /** GET /failsafe body: the failsafe key (member -> api_url); null when failsafe mode is off (502). */
  getFailsafe?(): Promise<unknown>;
  /** Hosts of the members' api_url and conn_url in the last cluster view (restapi.allowlist_include_members). */
  memberHosts?(): string[];
  postSwitchover?(body: JsonObject): Promise<OperationResult>;
  postFailover?(body: JsonObject): Promise<OperationResult>;
  deleteSwitchover?(): Promise<OperationResult>;
  postRestart?(body: JsonObject): Promise<OperationResult>;
  deleteRestart?(): Promise<OperationResult>;
  postReinitialize?(body: JsonObject): Promise<OperationResult>;
  postReload?(): Promise<OperationResult>;
  postFailsafe?(body: JsonObject): Promise<OperationResult>;
  patchConfig?(body: JsonObject): Promise<OperationResult>;
  putConfig?(body: JsonObject): Promise<OperationResult>;
}

export type ReplyBody = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'text'; text: string; contentType?: string };

export interface Reply {
  code: number;
  body: ReplyBody;
  headers?: Record<string, string>;
}

export interface RouteRequest {
  /** Path as requested, without the query string. */
  path: string;
  query: URLSearchParams;
  /** Parsed JSON object body; {} when the route takes none or an optional one was empty. */
  body: JsonObject;
  provider: ApiProvider;
  /** Monotonic clock reading at the start of the request (for /liveness). */
  nowMs: number;
}

/** 'required': a non-empty JSON object; 'optional': empty or a JSON object; 'none': ignored. */
export type BodyRule = 'none' | 'optional' | 'required';

export interface Route {
  method: Method;
  /** Exact path; '/x' and '/x/' are the same. */
  path: string;
  /** Requires HTTP basic auth when the server has credentials (Patroni's check_access). */
  unsafe: boolean;
  body: BodyRule;
  handle(request: RouteRequest): Reply | Promise<Reply>;
}

export const text = (code: number, message: string): Reply => ({ code, body: { kind: 'text', text: message } });
export const json = (code: number, value: unknown): Reply => ({ code, body: { kind: 'json', value } });

function fromOperation(result: OperationResult): Reply {
  return 'json' in result ? json(result.code, result.json) : text(result.code, result.text);
}

function notImplemented(method: Method, path: string): Reply {
  return text(501, `Server does not support this operation: ${method} ${path} is not implemented by this keel agent yet`);
}

type BodyHook = (provider: ApiProvider) => ((body: JsonObject) => Promise<OperationResult>) | undefined;
type PlainHook = (provider: ApiProvider) => (() => Promise<OperationResult>) | undefined;

function operation(method: Method, path: string, body: BodyRule, pick: BodyHook): Route {
  return {
    method,
    path,
    unsafe: true,
    body,
    async handle(request) {
      const hook = pick(request.provider);
      return hook === undefined ? notImplemented(method, path) : fromOperation(await hook.call(request.provider, request.body));
    },
  };
}

function plainOperation(method: Method, path: string, pick: PlainHook): Route {
  return operation(method, path, 'none', (provider) => {
    const hook = pick(provider);
    return hook === undefined ? undefined : () => hook.call(provider);
  });
}

function read(path: string, load: (provider: ApiProvider) => (() => Promise<unknown>) | undefined, missing: string): Route {
  return {
    method: 'GET',
    path,
    unsafe: false,
    body: 'none',
    async handle(request) {
      const loader = load(request.provider);
      if (loader === undefined) return notImplemented('GET', path);
      const value = await loader.call(request.provider);
      return value === null || value === undefined ? text(502, missing) : json(200, value);
    },
  };
}

function healthRoute(path: string): Route {
  const statusOnly = path === '/liveness' || path === '/readiness';
  return {
    method: 'GET',
    path,
    unsafe: false,
    body: 'none',
    handle(request) {
      const status = request.provider.getStatus();
      const { code } = healthResponse(path, request.query, status, request.nowMs);
      return statusOnly ? { code, body: { kind: 'none' } } : json(code, patroniStatusJson(status));
    },
  };
}

const metricsRoute: Route = {
  method: 'GET',
  path: '/metrics',
  unsafe: false,
  body: 'none',
  async handle(request) {
    const render = request.provider.getMetrics;
    if (render === undefined) return notImplemented('GET', '/metrics');
    return { code: 200, body: { kind: 'text', text: await render.call(request.provider), contentType: METRICS_CONTENT_TYPE } };
  },
};

/** Patroni 3.0.2's endpoints. */
export function patroniRoutes(): Route[] {
  return [
    metricsRoute,
    ...HEALTH_PATHS.map(healthRoute),
    {
      method: 'GET',
      path: '/patroni',
      unsafe: false,
      body: 'none',
      handle: async (r) =>
        json(200, patroniStatusJson(r.provider.getStatusWithWalNow !== undefined ? await r.provider.getStatusWithWalNow() : r.provider.getStatus())),
    },
    read('/cluster', (p) => p.getClusterJson, 'cluster is not available'),
    {
      // ?details: keel's failover records (who was considered, when, what may have been lost)
      // instead of Patroni's timeline history lines.
      method: 'GET',
      path: '/history',
      unsafe: false,
      body: 'none',
      async handle(request) {
        const details = request.query.has('details');
        const loader = details ? request.provider.getFailoverRecords : request.provider.getHistory;
        if (loader === undefined) return notImplemented('GET', '/history');
        const value = await loader.call(request.provider);
        return value === null || value === undefined
          ? text(502, details ? 'failover records are not available' : 'history is not available')
          : json(200, value);
      },
    },
    read('/config', (p) => p.getConfig, 'no configuration in the DCS'),
    read('/failsafe', (p) => p.getFailsafe, 'failsafe mode is not active'),
    operation('POST', '/switchover', 'required', (p) => p.postSwitchover),
    operation('POST', '/failover', 'required', (p) => p.postFailover),
    plainOperation('DELETE', '/switchover', (p) => p.deleteSwitchover),
    operation('POST', '/restart', 'optional', (p) => p.postRestart),
    plainOperation('DELETE', '/restart', (p) => p.deleteRestart),
    operation('POST', '/reinitialize', 'optional', (p) => p.postReinitialize),
    plainOperation('POST', '/reload', (p) => p.postReload),
    operation('POST', '/failsafe', 'required', (p) => p.postFailsafe),
    operation('PATCH', '/config', 'required', (p) => p.patchConfig),
    operation('PUT', '/config', 'required', (p) => p.putConfig),
  ];
}
