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
import { HEALTH_PATHS, healthResponse, patroniStatusJson } from './status.js';
export const text = (code, message) => ({ code, body: { kind: 'text', text: message } });
export const json = (code, value) => ({ code, body: { kind: 'json', value } });
function fromOperation(result) {
    return 'json' in result ? json(result.code, result.json) : text(result.code, result.text);
}
function notImplemented(method, path) {
    return text(501, `Server does not support this operation: ${method} ${path} is not implemented by this keel agent yet`);
}
function operation(method, path, body, pick) {
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
function plainOperation(method, path, pick) {
    return operation(method, path, 'none', (provider) => {
        const hook = pick(provider);
        return hook === undefined ? undefined : () => hook.call(provider);
    });
}
function read(path, load, missing) {
    return {
        method: 'GET',
        path,
        unsafe: false,
        body: 'none',
        async handle(request) {
            const loader = load(request.provider);
            if (loader === undefined)
                return notImplemented('GET', path);
            const value = await loader.call(request.provider);
            return value === null || value === undefined ? text(502, missing) : json(200, value);
        },
    };
}
function healthRoute(path) {
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
/** Patroni 3.0.2's endpoints (GET /metrics excepted). */
export function patroniRoutes() {
    return [
        ...HEALTH_PATHS.map(healthRoute),
        { method: 'GET', path: '/patroni', unsafe: false, body: 'none', handle: (r) => json(200, patroniStatusJson(r.provider.getStatus())) },
        read('/cluster', (p) => p.getClusterJson, 'cluster is not available'),
        read('/history', (p) => p.getHistory, 'history is not available'),
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
//# sourceMappingURL=routes.js.map