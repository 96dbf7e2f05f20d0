/**
 * The few Python behaviours that Patroni's cluster JSON and patronictl's output depend on, so keel
 * prints the same bytes: truthiness, `str()` of a value, `round()` (half to even), code-point string
 * order, `json.dumps` with its defaults, `str.title()`, Patroni's `parse_bool`, and the host/port
 * parts of `urllib.parse.urlparse`.
 *
 * Invariant: every function here is pure and total (never throws); where Python would raise on
 * malformed input, the function returns a documented fallback instead.
 * Limitation: JavaScript has one number type, so an integral float (Python `3.0`) is treated as
 * the int `3`; Patroni's data never carries integral floats where it matters.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Narrows an unknown (parsed JSON) value to JsonValue; functions and undefined become null. */
export function asJsonValue(value: unknown): JsonValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(asJsonValue);
  if (isPlainObject(value)) {
    const result: { [key: string]: JsonValue } = {};
    for (const [key, entry] of Object.entries(value)) result[key] = asJsonValue(entry);
    return result;
  }
  return null;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Python's bool(value) for JSON-shaped values. */
export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Patroni's utils.parse_bool: true/false for the usual spellings, undefined otherwise. */
export function parseBool(value: unknown): boolean | undefined {
  const text = pyStr(value).toLowerCase();
  if (text === 'on' || text === 'true' || text === 'yes' || text === '1') return true;
  if (text === 'off' || text === 'false' || text === 'no' || text === '0') return false;
  return undefined;
}

/** Python's repr() of a float (shortest round-trip digits, exponent form outside 1e-4 <= |x| < 1e16). */
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return `${value}.0`;
  const [mantissa = '0', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(value);
}

/** Python's repr() of a number as JSON delivers it: integral values are ints. */
export function pyNumberRepr(value: number): string {
  // String() spells every safe integer in full; larger ones need BigInt to avoid exponent form.
  if (Number.isSafeInteger(value)) return String(value);
  if (Number.isInteger(value)) return BigInt(value).toString();
  return pyFloatRepr(value);
}

/** Python's repr() of a str: single quotes unless the text holds a single quote and no double quote. */
export function pyStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let body = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') body += '\\\\';
    else if (ch === quote) body += `\\${quote}`;
    else if (ch === '\n') body += '\\n';
    else if (ch === '\r') body += '\\r';
    else if (ch === '\t') body += '\\t';
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) body += `\\x${code.toString(16).padStart(2, '0')}`;
    else body += ch;
  }
  return quote + body + quote;
}

/** Python's repr() of a JSON-shaped value (dicts and lists as Python prints them). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pyNumberRepr(value);
  if (typeof value === 'string') return pyStrRepr(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (isPlainObject(value)) {
    return `{${Object.entries(value)
      .map(([key, entry]) => `${pyStrRepr(key)}: ${pyRepr(entry)}`)
      .join(', ')}}`;
  }
  return 'None';
}

/** Python's str(value): strings unchanged, everything else as repr(). */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

/** Python 3's round(x) to an int: halves go to the even neighbour (round(2.5) == 2). */
export function pyRound(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Orders strings as Python does (by code point), which differs from UTF-16 order for astral characters. */
export function compareCodePoints(left: string, right: string): number {
  const a = Array.from(left);
  const b = Array.from(right);
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i]?.codePointAt(0) ?? 0;
    const y = b[i]?.codePointAt(0) ?? 0;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

/** Python's str.title() for the role names (letters after a non-letter are upper-cased). */
export function pyTitle(text: string): string {
  let previousIsLetter = false;
  let result = '';
  for (const ch of text) {
    const isLetter = ch.toLowerCase() !== ch.toUpperCase();
    result += isLetter ? (previousIsLetter ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    previousIsLetter = isLetter;
  }
  return result;
}

/** Text json.dumps writes unchanged: printable ASCII except the double quote and the backslash. */
const PLAIN_JSON_TEXT = /^[ !#-[\]-~]*$/;

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** Python's json.dumps(value) with default arguments: ", " and ": " separators, non-ASCII escaped. */
export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return pyNumberRepr(value);
  }
  if (typeof value === 'string') {
    // Most strings need no escape; building them char by char made up a tenth of an agent's CPU
    // under HAProxy's checks (issue 12).
    if (PLAIN_JSON_TEXT.test(value)) return `"${value}"`;
    let body = '';
    for (let i = 0; i < value.length; i++) {
      const ch = value.charAt(i);
      const code = value.charCodeAt(i);
      const escape = JSON_ESCAPES[ch];
      if (escape !== undefined) body += escape;
      else if (code < 0x20 || code > 0x7e) body += `\\u${code.toString(16).padStart(4, '0')}`;
      else body += ch;
    }
    return `"${body}"`;
  }
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(', ')}]`;
  if (isPlainObject(value)) {
    return `{${Object.entries(value)
      .map(([key, entry]) => `${pyJsonDumps(key)}: ${pyJsonDumps(entry)}`)
      .join(', ')}}`;
  }
  return 'null';
}

/** Host and port of a URL the way urllib.parse.urlparse reports them (`hostname` lower-cased, brackets removed). */
export interface UrlHostPort {
  hostname: string | null;
  /** null when the URL has no port; undefined when the port is not a number in 0-65535 (Python raises). */
  port: number | null | undefined;
}

export function pyUrlHostPort(url: string): UrlHostPort {
  const stripped = url.replace(/[\t\r\n]/g, '').replace(/^[\x00-\x20]+/, '');
  const schemeEnd = stripped.indexOf(':');
  let rest = schemeEnd > 0 && /^[A-Za-z][A-Za-z0-9+.-]*$/.test(stripped.slice(0, schemeEnd)) ? stripped.slice(schemeEnd + 1) : stripped;
  if (!rest.startsWith('//')) return { hostname: null, port: null };
  rest = rest.slice(2);
  const netlocEnd = rest.search(/[/?#]/);
  const netloc = netlocEnd === -1 ? rest : rest.slice(0, netlocEnd);
  const hostinfo = netloc.slice(netloc.lastIndexOf('@') + 1);
  let hostname: string;
  let portText: string;
  const open = hostinfo.indexOf('[');
  if (open !== -1) {
    const bracketed = hostinfo.slice(open + 1);
    const close = bracketed.indexOf(']');
    hostname = close === -1 ? bracketed : bracketed.slice(0, close);
    const after = close === -1 ? '' : bracketed.slice(close + 1);
    const colon = after.indexOf(':');
    portText = colon === -1 ? '' : after.slice(colon + 1);
  } else {
    const colon = hostinfo.indexOf(':');
    hostname = colon === -1 ? hostinfo : hostinfo.slice(0, colon);
    portText = colon === -1 ? '' : hostinfo.slice(colon + 1);
  }
  let port: number | null | undefined = null;
  if (portText !== '') {
    port = /^[0-9]+$/.test(portText) && Number(portText) <= 65535 ? Number(portText) : undefined;
  }
  if (hostname === '') return { hostname: null, port };
  const zone = hostname.indexOf('%');
  const lowered = zone === -1 ? hostname.toLowerCase() : hostname.slice(0, zone).toLowerCase() + hostname.slice(zone);
  return { hostname: lowered, port };
}

/** Python's int(value) for the port in a member's conn_kwargs; undefined where Python would raise. */
export function pyInt(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'string' && /^\s*[+-]?[0-9]+(?:_[0-9]+)*\s*$/.test(value)) return Number(value.replace(/_/g, ''));
  return undefined;
}
