/**
 * Typed errors for answers etcd gave (as opposed to DcsUnavailableError, which means no endpoint
 * answered at all).
 *
 * etcd's JSON gateway reports a failed gRPC call as an HTTP status >= 400 with a body
 * {"error": "<text>", "message": "<text>", "code": <gRPC code>}, and a failure inside a stream as
 * {"error": {"grpc_code": N, "http_code": N, "message": "<text>"}}. We classify by the exact
 * etcdserver text first (like Patroni's etcd3 module), then by gRPC code.
 */
/** google.golang.org/grpc/codes */
export const GrpcCode = {
    ok: 0,
    canceled: 1,
    unknown: 2,
    invalidArgument: 3,
    deadlineExceeded: 4,
    notFound: 5,
    alreadyExists: 6,
    permissionDenied: 7,
    resourceExhausted: 8,
    failedPrecondition: 9,
    aborted: 10,
    outOfRange: 11,
    unimplemented: 12,
    internal: 13,
    unavailable: 14,
    dataLoss: 15,
    unauthenticated: 16,
};
/** Exact etcdserver error texts (api/v3rpc/rpctypes/error.go) that need their own kind. */
const KIND_BY_TEXT = {
    'etcdserver: requested lease not found': 'lease_not_found',
    'etcdserver: user name is empty': 'user_empty',
    'etcdserver: authentication failed, invalid user ID or password': 'auth_failed',
    'etcdserver: authentication is not enabled': 'auth_not_enabled',
    'etcdserver: invalid auth token': 'invalid_auth_token',
    'etcdserver: permission denied': 'permission_denied',
    'etcdserver: mvcc: required revision has been compacted': 'compacted',
    'etcdserver: mvcc: required revision is a future revision': 'future_revision',
};
const KIND_BY_CODE = {
    [GrpcCode.invalidArgument]: 'invalid_argument',
    [GrpcCode.deadlineExceeded]: 'deadline_exceeded',
    [GrpcCode.permissionDenied]: 'permission_denied',
    [GrpcCode.failedPrecondition]: 'failed_precondition',
    [GrpcCode.unavailable]: 'unavailable',
    [GrpcCode.unauthenticated]: 'invalid_auth_token',
};
/** An error answer from one etcd endpoint. */
export class EtcdError extends Error {
    kind;
    /** gRPC status code, or -1 when the answer carried none. */
    grpcCode;
    /** HTTP status of the answer, or 0 inside a stream without one. */
    httpStatus;
    /** Endpoint ("host:port") that answered. */
    endpoint;
    constructor(kind, message, details = {}) {
        super(message);
        this.name = 'EtcdError';
        this.kind = kind;
        this.grpcCode = details.grpcCode ?? -1;
        this.httpStatus = details.httpStatus ?? 0;
        this.endpoint = details.endpoint ?? '';
    }
    /** True when another endpoint may well succeed (the member is unhealthy or cut off). */
    get endpointFailure() {
        return this.kind === 'unavailable' || this.kind === 'deadline_exceeded' || (this.kind === 'bad_response' && this.httpStatus >= 500);
    }
}
export function classifyEtcdError(text, grpcCode) {
    return KIND_BY_TEXT[text.trim()] ?? KIND_BY_CODE[grpcCode] ?? 'other';
}
function asRecord(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : null;
}
/**
 * The EtcdError an answer body describes, or null when it describes none. Handles both the unary
 * shape ({"error": text, "code": N}) and the streaming one ({"error": {"grpc_code", "message"}}).
 */
export function errorFromBody(body, httpStatus, endpoint) {
    const record = asRecord(body);
    if (record === null)
        return null;
    const error = record['error'] ?? record['Error'];
    if (error === undefined)
        return null;
    const nested = asRecord(error);
    if (nested !== null) {
        const text = typeof nested['message'] === 'string' ? nested['message'] : JSON.stringify(nested);
        const code = typeof nested['grpc_code'] === 'number' ? nested['grpc_code'] : GrpcCode.unknown;
        const status = typeof nested['http_code'] === 'number' ? nested['http_code'] : httpStatus;
        return new EtcdError(classifyEtcdError(text, code), text, { grpcCode: code, httpStatus: status, endpoint });
    }
    const text = typeof error === 'string' ? error : JSON.stringify(error);
    const rawCode = record['code'] ?? record['Code'];
    const code = typeof rawCode === 'number' ? rawCode : GrpcCode.unknown;
    return new EtcdError(classifyEtcdError(text, code), text, { grpcCode: code, httpStatus, endpoint });
}
/** Turns an HTTP answer into the JSON object it carries, or the EtcdError it describes. */
export function interpretAnswer(answer, endpoint) {
    let body;
    try {
        body = JSON.parse(answer.body);
    }
    catch {
        if (answer.status === 404)
            throw new EtcdError('route_not_found', `${endpoint}: no such API route`, { httpStatus: 404, endpoint });
        throw new EtcdError('bad_response', `${endpoint}: answer is not JSON (HTTP ${answer.status}): ${answer.body.slice(0, 200)}`, {
            httpStatus: answer.status,
            endpoint,
        });
    }
    const error = errorFromBody(body, answer.status, endpoint);
    if (error !== null)
        throw error;
    if (answer.status >= 400)
        throw new EtcdError('bad_response', `${endpoint}: HTTP ${answer.status}: ${answer.body.slice(0, 200)}`, { httpStatus: answer.status, endpoint });
    return asRecord(body) ?? {};
}
/** Thrown when no etcd endpoint answered within the deadline (the DCS is unavailable). */
export class DcsUnavailableError extends Error {
    constructor(message, options) {
        super(message, options);
        this.name = 'DcsUnavailableError';
    }
}
//# sourceMappingURL=etcd-errors.js.map