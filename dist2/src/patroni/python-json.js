/**
 * JSON text exactly as Python's `json.dumps(value, separators=(',', ':'))` writes it, which is
 * how Patroni 3.0.2 serialises every JSON value it stores in etcd (member keys, status, sync,
 * failover, history, failsafe and the agent's writes of `config`).
 *
 * Differences from JSON.stringify that matter: Python's default ensure_ascii=True writes every
 * character outside printable ASCII (0x20-0x7e) as a lowercase \uXXXX escape (astral characters
 * as a surrogate pair), including DEL (0x7f). Known remaining differences, not reachable from the
 * values keel writes: Python keeps insertion order for integer-like object keys (JS moves them
 * first), writes floats such as 1.0 as "1.0" and NaN/Infinity literally.
 */
const NON_ASCII = /[\u007f-\uffff]/g;
function escapeUnit(unit) {
    return '\\u' + unit.charCodeAt(0).toString(16).padStart(4, '0');
}
/** Compact, ASCII-only JSON, byte for byte Python's json.dumps(value, separators=(',', ':')). */
export function pythonJsonDumps(value) {
    const text = JSON.stringify(value);
    if (text === undefined)
        return 'null';
    // Non-ASCII characters can only occur inside string literals, so escaping them everywhere is safe.
    return text.replace(NON_ASCII, escapeUnit);
}
/** Parses JSON, returning `fallback` instead of throwing on malformed text (Patroni's tolerance). */
export function parseJsonOr(text, fallback) {
    if (text === null || text === undefined)
        return fallback;
    try {
        return JSON.parse(text);
    }
    catch {
        return fallback;
    }
}
//# sourceMappingURL=python-json.js.map