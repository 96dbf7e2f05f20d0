/**
 * The `?lag=` value of the health endpoints, read exactly as Patroni 3.0.2 reads it:
 * utils.parse_int(value, 'B') — C strtol(3) with base 0 (hex "0x..", octal "0..", decimal),
 * falling back to strtod(3) when a fraction or exponent follows, then an optional unit among
 * B, kB, MB, GB, TB (case-sensitive, powers of 1024), rounded half-to-even like PostgreSQL's rint().
 *
 * Anything Patroni cannot read (unknown unit such as "mb" or "1M", garbage, empty) yields null,
 * which the health rules treat as "no lag limit" — as Patroni does with sys.maxsize.
 * Pure: no I/O, no clock.
 */
import { pyRound } from '../patroni/python-compat.js';
const HEX = /^[-+]?0x[0-9a-fA-F]+/;
const OCT = /^[-+]?0[0-7]*/;
const DEC = /^[-+]?(0|[1-9][0-9]*)/;
const DBL = /^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?/;
const BYTES_PER_UNIT = {
    B: 1,
    kB: 1024,
    MB: 1024 ** 2,
    GB: 1024 ** 3,
    TB: 1024 ** 4,
};
/** The unit one step smaller, to whose multiple Patroni rounds a converted value. */
const ROUND_TO = { TB: 'GB', GB: 'MB', MB: 'kB', kB: 'B' };
function signed(text, digits, radix) {
    const negative = text.startsWith('-');
    const magnitude = parseInt(digits, radix);
    return negative ? -magnitude : magnitude;
}
/** strtol(value, base=0) as Patroni's utils.strtol does it (strict: null when no number). */
function strtol(text) {
    const hex = HEX.exec(text);
    if (hex !== null)
        return { value: signed(text, hex[0].replace(/^[-+]?0x/, ''), 16), rest: text.slice(hex[0].length) };
    const oct = OCT.exec(text);
    if (oct !== null)
        return { value: signed(text, oct[0].replace(/^[-+]/, ''), 8), rest: text.slice(oct[0].length) };
    const dec = DEC.exec(text);
    if (dec !== null)
        return { value: signed(text, dec[0].replace(/^[-+]/, ''), 10), rest: text.slice(dec[0].length) };
    return { value: null, rest: text };
}
function strtod(text) {
    const match = DBL.exec(text);
    if (match === null)
        return { value: null, rest: text };
    return { value: Number(match[0]), rest: text.slice(match[0].length) };
}
/** Patroni's convert_to_base_unit(value, unit, 'B'); null for a unit that is not a byte unit. */
function toBytes(value, unit) {
    const factor = BYTES_PER_UNIT[unit];
    if (factor === undefined)
        return null;
    let bytes = value * factor;
    const roundTo = ROUND_TO[unit];
    if (roundTo !== undefined) {
        const multiplier = BYTES_PER_UNIT[roundTo] ?? 1;
        bytes = pyRound(bytes / multiplier) * multiplier;
    }
    return bytes;
}
/**
 * Bytes for a Patroni size string ("16kB", "1MB", "1048576", "0x400", "1.5MB"), or null when
 * Patroni's parse_int(value, 'B') would return None.
 */
export function parseSizeBytes(raw) {
    const text = raw.trim();
    let split = strtol(text);
    const first = split.rest.charAt(0);
    if ((split.value === null && split.rest.startsWith('.')) || first === '.' || first === 'e' || first === 'E') {
        split = strtod(text);
    }
    if (split.value === null)
        return null;
    const unit = split.rest.trim();
    const bytes = unit === '' ? split.value : toBytes(split.value, unit);
    if (bytes === null || !Number.isFinite(bytes))
        return null;
    return pyRound(bytes);
}
//# sourceMappingURL=lag.js.map