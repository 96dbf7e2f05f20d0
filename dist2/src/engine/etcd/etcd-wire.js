/**
 * The JSON shapes of etcd's v3 gRPC gateway, encoded and decoded by hand.
 *
 * On the wire keys and values are base64 of their bytes, int64 fields are decimal strings, and
 * fields at their zero value are omitted (a missing "succeeded" is false, a missing event "type"
 * is PUT, a missing "lease" is no lease). Keys and values are UTF-8 text in keel. Revisions are
 * JS numbers (exact up to 2^53); lease IDs stay decimal strings because they use all 63 bits.
 */
export function b64(text) {
    return Buffer.from(text, 'utf8').toString('base64');
}
export function unb64(value) {
    return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '';
}
/**
 * The range_end covering every key starting with `prefix`: the prefix with its last byte below
 * 0xff incremented (bytes, because the result need not be valid UTF-8).
 */
export function prefixRangeEnd(prefix) {
    const bytes = Buffer.from(prefix, 'utf8');
    for (let i = bytes.length - 1; i >= 0; i--) {
        const byte = bytes[i] ?? 0xff;
        if (byte < 0xff) {
            const end = Buffer.from(bytes.subarray(0, i + 1));
            end[i] = byte + 1;
            return end;
        }
    }
    return Buffer.from([0]); // etcd's convention for "every key from `key` on"
}
export function asObject(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
}
export function asArray(value) {
    return Array.isArray(value) ? value : [];
}
/** An int64 field (decimal string or number); 0 when absent or malformed. */
export function int64(value) {
    if (typeof value === 'number' && Number.isFinite(value))
        return value;
    if (typeof value === 'string' && /^-?\d+$/.test(value))
        return Number(value);
    return 0;
}
/** A lease ID field: decimal string, or null when absent or zero. */
export function leaseId(value) {
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
    return /^-?\d+$/.test(text) && !/^-?0+$/.test(text) ? text : null;
}
export function headerRevision(body) {
    return int64(asObject(body['header'])['revision']);
}
export function decodeKeyValue(raw) {
    const kv = asObject(raw);
    return {
        key: unb64(kv['key']),
        value: unb64(kv['value']),
        createRevision: int64(kv['create_revision']),
        modRevision: int64(kv['mod_revision']),
        version: int64(kv['version']),
        lease: leaseId(kv['lease']),
    };
}
const COMPARE_FIELD = { CREATE: 'create_revision', MOD: 'mod_revision', VERSION: 'version', VALUE: 'value', LEASE: 'lease' };
export function encodeCompare(compare) {
    const encoded = { key: b64(compare.key), target: compare.target, result: compare.result ?? 'EQUAL' };
    switch (compare.target) {
        case 'CREATE':
            encoded[COMPARE_FIELD.CREATE] = String(compare.createRevision);
            break;
        case 'MOD':
            encoded[COMPARE_FIELD.MOD] = String(compare.modRevision);
            break;
        case 'VERSION':
            encoded[COMPARE_FIELD.VERSION] = String(compare.version);
            break;
        case 'VALUE':
            encoded[COMPARE_FIELD.VALUE] = b64(compare.value);
            break;
        case 'LEASE':
            encoded[COMPARE_FIELD.LEASE] = compare.lease;
            break;
    }
    return encoded;
}
/** A key, or with `prefix` every key starting with it. */
export function encodeRange(key, prefix = false) {
    const fields = { key: b64(key) };
    if (prefix)
        fields['range_end'] = prefixRangeEnd(key).toString('base64');
    return fields;
}
export function encodePut(key, value, lease) {
    const fields = { key: b64(key), value: b64(value) };
    if (lease !== undefined && lease !== null)
        fields['lease'] = lease;
    return fields;
}
export function encodeOp(op) {
    if ('put' in op)
        return { request_put: encodePut(op.put.key, op.put.value, op.put.lease) };
    if ('deleteRange' in op)
        return { request_delete_range: encodeRange(op.deleteRange.key, op.deleteRange.prefix) };
    return { request_range: encodeRange(op.range.key, op.range.prefix) };
}
export function decodeResponseOp(raw) {
    const op = asObject(raw);
    if ('response_range' in op)
        return { kind: 'range', kvs: asArray(asObject(op['response_range'])['kvs']).map(decodeKeyValue) };
    if ('response_delete_range' in op)
        return { kind: 'deleteRange', deleted: int64(asObject(op['response_delete_range'])['deleted']) };
    return { kind: 'put' };
}
export function decodeWatchResult(raw) {
    const result = asObject(raw);
    return {
        revision: headerRevision(result),
        created: result['created'] === true,
        canceled: result['canceled'] === true,
        compactRevision: int64(result['compact_revision']),
        cancelReason: typeof result['cancel_reason'] === 'string' ? result['cancel_reason'] : '',
        events: asArray(result['events']).map((event) => {
            const e = asObject(event);
            return { type: e['type'] === 'DELETE' ? 'DELETE' : 'PUT', kv: decodeKeyValue(e['kv']) };
        }),
    };
}
//# sourceMappingURL=etcd-wire.js.map