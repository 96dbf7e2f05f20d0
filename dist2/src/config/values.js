/**
 * Scalar conversions for Patroni-format values, shared by the local-file loader and the
 * dynamic-config parser. Every function here is pure and total: it returns a value or a
 * `{ error }` sentence saying what was expected and what was found (never throws).
 *
 * Patroni's leniency is kept where operators rely on it: booleans may be written
 * on/off/true/false/yes/no/1/0 (its parse_bool), integers and ports may be strings, and
 * "host:port" follows its split_host_port (the last colon separates the port, IPv6 hosts may be
 * bracketed, a comma list of hosts may precede the port).
 */
export const ok = (value) => ({ ok: true, value });
export const fail = (error) => ({ ok: false, error });
/** How a value is named in messages: strings quoted, containers by kind. */
export function describe(value) {
    if (value === undefined)
        return 'nothing';
    if (value === null)
        return 'an empty value';
    if (typeof value === 'string')
        return JSON.stringify(value);
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
        return String(value);
    if (Array.isArray(value))
        return 'a list';
    if (value instanceof Date)
        return 'a date';
    if (typeof value === 'object')
        return 'a mapping';
    return typeof value;
}
export function isRecord(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
/** Patroni's parse_bool: on/true/yes/1 and off/false/no/0, any case; anything else is undefined. */
export function parseBoolLike(value) {
    if (typeof value === 'boolean')
        return value;
    if (typeof value === 'number')
        return value === 1 ? true : value === 0 ? false : undefined;
    if (typeof value !== 'string')
        return undefined;
    const text = value.trim().toLowerCase();
    if (['on', 'true', 'yes', '1'].includes(text))
        return true;
    if (['off', 'false', 'no', '0'].includes(text))
        return false;
    return undefined;
}
export function parseBool(value) {
    const parsed = parseBoolLike(value);
    return parsed === undefined ? fail(`expected a boolean (true/false, on/off, yes/no), got ${describe(value)}`) : ok(parsed);
}
/** Python's int() on an int or a decimal string (surrounding blanks allowed); no units, no fractions. */
export function parseIntLike(value) {
    if (typeof value === 'number')
        return Number.isSafeInteger(value) ? value : undefined;
    if (typeof value !== 'string')
        return undefined;
    const text = value.trim();
    if (!/^[+-]?\d+$/.test(text))
        return undefined;
    const parsed = Number(text);
    return Number.isSafeInteger(parsed) ? parsed : undefined;
}
export function parseInteger(value, range = {}) {
    const parsed = parseIntLike(value);
    const bounds = rangeText(range);
    if (parsed === undefined)
        return fail(`expected an integer${bounds}, got ${describe(value)}`);
    if ((range.min !== undefined && parsed < range.min) || (range.max !== undefined && parsed > range.max)) {
        return fail(`expected an integer${bounds}, got ${describe(value)}`);
    }
    return ok(parsed);
}
/** A non-negative number of seconds (fractions allowed, as Patroni's float()), returned in ms. */
export function parseSecondsToMs(value) {
    const text = typeof value === 'string' ? value.trim() : value;
    const seconds = typeof text === 'number' ? text : typeof text === 'string' && /^\+?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(seconds) || seconds < 0)
        return fail(`expected a number of seconds (0 or more), got ${describe(value)}`);
    return ok(Math.round(seconds * 1000));
}
function rangeText(range) {
    if (range.min !== undefined && range.max !== undefined)
        return ` from ${range.min} to ${range.max}`;
    if (range.min !== undefined)
        return ` of at least ${range.min}`;
    if (range.max !== undefined)
        return ` of at most ${range.max}`;
    return '';
}
/** Strings as they are; numbers (YAML turns `password: 1234` into one) become their decimal text. */
export function parseString(value) {
    if (typeof value === 'string')
        return ok(value);
    if (typeof value === 'number' && Number.isFinite(value))
        return ok(String(value));
    if (typeof value === 'boolean')
        return fail(`expected a string, got ${String(value)} (quote it: "${value ? 'on' : 'off'}" and its kin are booleans in YAML)`);
    return fail(`expected a string, got ${describe(value)}`);
}
export function parseStringList(value) {
    if (!Array.isArray(value))
        return fail(`expected a list of strings, got ${describe(value)}`);
    const out = [];
    for (const item of value) {
        const parsed = parseString(item);
        if (!parsed.ok)
            return fail(`expected a list of strings, got ${describe(item)} in it`);
        out.push(parsed.value);
    }
    return ok(out);
}
/** Port numbers as Patroni accepts them: an integer or a string of digits, 1..65535. */
export function parsePort(value) {
    const port = parseIntLike(value);
    if (port === undefined || port < 1 || port > 65535)
        return fail(`expected a port number from 1 to 65535, got ${describe(value)}`);
    return ok(port);
}
const HOST_RE = /^[^\s/,]+$/;
function cleanHost(host) {
    const trimmed = host.trim();
    return trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
}
/**
 * Splits "host:port" at the last colon (Patroni's split_host_port). Without a colon the
 * default port is used when one is given, otherwise it is an error. The host loses IPv6
 * brackets: "[::1]:5432" -> { host: "::1", port: 5432 }.
 */
export function splitHostPort(value, defaultPort) {
    const expected = `expected "host:port", got ${describe(value)}`;
    if (typeof value !== 'string')
        return fail(expected);
    const text = value.trim();
    const colon = text.lastIndexOf(':');
    const bracketed = text.startsWith('[') && text.endsWith(']');
    if (colon < 0 || bracketed) {
        if (defaultPort === undefined)
            return fail(expected);
        const host = cleanHost(text);
        return HOST_RE.test(host) ? ok({ host, port: defaultPort }) : fail(expected);
    }
    const host = cleanHost(text.slice(0, colon));
    const portText = text.slice(colon + 1);
    const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (host === '' || !HOST_RE.test(host))
        return fail(expected);
    if (!(port >= 1 && port <= 65535))
        return fail(`expected "host:port" with a port from 1 to 65535, got ${describe(value)}`);
    return ok({ host, port });
}
/**
 * postgresql.listen: "host:port" or "host1,host2:port" (listen_addresses plus the port).
 * The port is required, as Patroni's validator requires it.
 */
export function parseListen(value) {
    const expected = `expected "host:port", got ${describe(value)}`;
    if (typeof value !== 'string')
        return fail(expected);
    const colon = value.lastIndexOf(':');
    if (colon < 0)
        return fail(expected);
    const hosts = value.slice(0, colon).split(',').map(cleanHost);
    const portText = value.slice(colon + 1).trim();
    const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (hosts.some((h) => h === '' || !HOST_RE.test(h)))
        return fail(expected);
    if (!(port >= 1 && port <= 65535))
        return fail(`expected "host:port" with a port from 1 to 65535, got ${describe(value)}`);
    if (hosts.includes('*') && hosts.length > 1)
        return fail(`expected "*" alone in the host list, got ${describe(value)}`);
    return ok({ hosts, port });
}
/** Addresses that mean "every interface" and so cannot be given to other nodes to connect to. */
export function isWildcardHost(host) {
    return host === '*' || host === '0.0.0.0' || host === '::' || host === '';
}
/** "/service/" form: one leading and one trailing slash, repeated slashes collapsed. */
export function normaliseNamespace(namespace) {
    return `/${namespace}/`.replace(/\/+/g, '/');
}
/**
 * Renders initdb / pg_basebackup options as Patroni does: a list whose items are flags
 * ("data-checksums" -> "--data-checksums") or one-key mappings ({encoding: UTF8} ->
 * "--encoding=UTF8"), or a plain mapping ({max-rate: 100M} -> "--max-rate=100M"; false / empty
 * values are left out, true gives a bare flag).
 * Options Patroni sets itself are refused. Errors carry the index or key where they occur.
 */
export function renderToolOptions(tool, value, notAllowed) {
    const refuse = (name, at) => ({
        ok: false,
        error: `"${name}" is set by keel itself and cannot be given as a ${tool} option`,
        at,
    });
    const args = [];
    if (isRecord(value)) {
        for (const [key, v] of Object.entries(value)) {
            if (notAllowed.includes(key))
                return refuse(key, key);
            if (v === null || v === undefined || v === false || v === '')
                continue;
            if (typeof v !== 'string' && typeof v !== 'number' && v !== true) {
                return { ok: false, error: `expected a string or number, got ${describe(v)}`, at: key };
            }
            // a bare switch ({verbose: true}) becomes --verbose (Patroni would pass --verbose=True)
            args.push(v === true ? `--${key}` : `--${key}=${String(v)}`);
        }
        return ok(args);
    }
    if (!Array.isArray(value))
        return fail(`expected a list of ${tool} options (a flag or a one-key mapping per item), got ${describe(value)}`);
    for (const [index, item] of value.entries()) {
        if (typeof item === 'string') {
            if (notAllowed.includes(item))
                return refuse(item, index);
            args.push(`--${item}`);
            continue;
        }
        const single = isRecord(item) ? Object.entries(item) : [];
        const entry = single.length === 1 ? single[0] : undefined;
        if (entry === undefined || (typeof entry[1] !== 'string' && typeof entry[1] !== 'number')) {
            return { ok: false, error: `expected a flag like "data-checksums" or a one-key mapping like {encoding: UTF8}, got ${describe(item)}`, at: index };
        }
        if (notAllowed.includes(entry[0]))
            return refuse(entry[0], index);
        args.push(`--${entry[0]}=${String(entry[1])}`);
    }
    return ok(args);
}
//# sourceMappingURL=values.js.map