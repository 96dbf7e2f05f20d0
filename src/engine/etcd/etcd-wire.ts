/**
 * The JSON shapes of etcd's v3 gRPC gateway, encoded and decoded by hand.
 *
 * On the wire keys and values are base64 of their bytes, int64 fields are decimal strings, and
 * fields at their zero value are omitted (a missing "succeeded" is false, a missing event "type"
 * is PUT, a missing "lease" is no lease). Keys and values are UTF-8 text in keel. Revisions are
 * JS numbers (exact up to 2^53); lease IDs stay decimal strings because they use all 63 bits.
 */

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** Lease ID (decimal) the key is attached to, or null. */
  lease: string | null;
}

export type CompareResult = 'EQUAL' | 'NOT_EQUAL' | 'GREATER' | 'LESS';

/** One condition of a transaction; `result` defaults to EQUAL. */
export type Compare =
  | { key: string; target: 'CREATE'; createRevision: number; result?: CompareResult }
  /** With `prefix`, every key under `key` must satisfy it (etcd's range_end); an empty range satisfies it. */
  | { key: string; target: 'MOD'; modRevision: number; result?: CompareResult; prefix?: boolean }
  | { key: string; target: 'VERSION'; version: number; result?: CompareResult }
  | { key: string; target: 'VALUE'; value: string; result?: CompareResult }
  | { key: string; target: 'LEASE'; lease: string; result?: CompareResult };

export type RequestOp =
  | { put: { key: string; value: string; lease?: string | null } }
  | { deleteRange: { key: string; prefix?: boolean } }
  | { range: { key: string; prefix?: boolean } };

export type ResponseOp = { kind: 'range'; kvs: KeyValue[] } | { kind: 'put' } | { kind: 'deleteRange'; deleted: number };

export interface WatchEventKv {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
}

/** One message of a watch stream. */
export interface WatchResponse {
  /** Header revision; 0 when the message carried none (e.g. a cancel). */
  revision: number;
  created: boolean;
  canceled: boolean;
  /** > 0 when the requested start revision was compacted away. */
  compactRevision: number;
  cancelReason: string;
  events: WatchEventKv[];
}

export type JsonObject = Record<string, unknown>;

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function unb64(value: unknown): string {
  return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '';
}

/**
 * The range_end covering every key starting with `prefix`: the prefix with its last byte below
 * 0xff incremented (bytes, because the result need not be valid UTF-8).
 */
export function prefixRangeEnd(prefix: string): Buffer {
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

export function asObject(value: unknown): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** An int64 field (decimal string or number); 0 when absent or malformed. */
export function int64(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return 0;
}

/** A lease ID field: decimal string, or null when absent or zero. */
export function leaseId(value: unknown): string | null {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
  return /^-?\d+$/.test(text) && !/^-?0+$/.test(text) ? text : null;
}

export function headerRevision(body: JsonObject): number {
  return int64(asObject(body['header'])['revision']);
}

export function decodeKeyValue(raw: unknown): KeyValue {
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

const COMPARE_FIELD = { CREATE: 'create_revision', MOD: 'mod_revision', VERSION: 'version', VALUE: 'value', LEASE: 'lease' } as const;

export function encodeCompare(compare: Compare): JsonObject {
  const encoded: JsonObject = { key: b64(compare.key), target: compare.target, result: compare.result ?? 'EQUAL' };
  switch (compare.target) {
    case 'CREATE':
      encoded[COMPARE_FIELD.CREATE] = String(compare.createRevision);
      break;
    case 'MOD':
      encoded[COMPARE_FIELD.MOD] = String(compare.modRevision);
      if (compare.prefix === true) encoded['range_end'] = prefixRangeEnd(compare.key).toString('base64');
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
export function encodeRange(key: string, prefix = false): JsonObject {
  const fields: JsonObject = { key: b64(key) };
  if (prefix) fields['range_end'] = prefixRangeEnd(key).toString('base64');
  return fields;
}

export function encodePut(key: string, value: string, lease?: string | null): JsonObject {
  const fields: JsonObject = { key: b64(key), value: b64(value) };
  if (lease !== undefined && lease !== null) fields['lease'] = lease;
  return fields;
}

export function encodeOp(op: RequestOp): JsonObject {
  if ('put' in op) return { request_put: encodePut(op.put.key, op.put.value, op.put.lease) };
  if ('deleteRange' in op) return { request_delete_range: encodeRange(op.deleteRange.key, op.deleteRange.prefix) };
  return { request_range: encodeRange(op.range.key, op.range.prefix) };
}

export function decodeResponseOp(raw: unknown): ResponseOp {
  const op = asObject(raw);
  if ('response_range' in op) return { kind: 'range', kvs: asArray(asObject(op['response_range'])['kvs']).map(decodeKeyValue) };
  if ('response_delete_range' in op) return { kind: 'deleteRange', deleted: int64(asObject(op['response_delete_range'])['deleted']) };
  return { kind: 'put' };
}

export function decodeWatchResult(raw: unknown): WatchResponse {
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
