/**
 * Normalises an ISO-8601 timestamp the way Patroni shows the failover key's `scheduled_at`:
 * Patroni parses it with dateutil and prints `datetime.isoformat()`, so
 * "2030-01-02T03:04:05.5Z" becomes "2030-01-02T03:04:05.500000+00:00".
 *
 * Rules (checked against dateutil in test/unit/patroni/fixtures/dateutil-compat.json):
 * seconds always printed; microseconds printed as 6 digits only when non-zero (extra digits are
 * truncated); "Z" and "+00:00" print as "+00:00"; "+0100" and "-07" print as "+01:00", "-07:00";
 * no offset stays naive (no suffix); a date alone is midnight.
 * Only ISO-8601 shapes are understood; anything else is returned unchanged (Patroni would fail).
 */
const ISO_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
function two(value) {
    return String(value).padStart(2, '0');
}
function formatOffset(offset) {
    if (offset.toUpperCase() === 'Z')
        return '+00:00';
    const sign = offset.charAt(0);
    const digits = offset.slice(1).replace(':', '');
    const hours = digits.slice(0, 2);
    const minutes = digits.length > 2 ? digits.slice(2, 4) : '00';
    if (Number(hours) === 0 && Number(minutes) === 0)
        return '+00:00';
    return `${sign}${hours}:${minutes}`;
}
export function pythonIsoformat(text) {
    const match = ISO_PATTERN.exec(text.trim());
    if (match === null)
        return text;
    const [, year = '', month = '', day = '', hour = '0', minute = '0', second = '0', fraction, offset] = match;
    let result = `${year}-${month}-${day}T${two(Number(hour))}:${two(Number(minute))}:${two(Number(second))}`;
    if (fraction !== undefined) {
        const micros = fraction.padEnd(6, '0').slice(0, 6);
        if (Number(micros) !== 0)
            result += `.${micros}`;
    }
    if (offset !== undefined)
        result += formatOffset(offset);
    return result;
}
//# sourceMappingURL=iso-datetime.js.map