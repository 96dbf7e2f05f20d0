/**
 * `?lag=` parsing: parseSizeBytes must read every value exactly as Patroni 3.0.2's
 * utils.parse_int(value, 'B') does. The expected values were printed by the real function
 * (/usr/bin/python3 -c "from patroni.utils import parse_int; ..."); null is Patroni's None,
 * which the health rules treat as "no lag limit".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSizeBytes } from '../../../src/api/lag.js';
const PATRONI_PARSE_INT_B = {
    '1MB': 1048576,
    '16kB': 16384,
    '1024': 1024,
    '0x400': 1024,
    '+0x400': 1024,
    ' 1 MB ': 1048576,
    '1.5MB': 1572864,
    '1.5kB': 1536,
    '0.5kB': 512,
    '1e3': 1000,
    '1E3B': 1000,
    '1M': null,
    '1mb': null,
    '1kb': null,
    abc: null,
    '': null,
    '  ': null,
    '-1': -1,
    '-070': -56,
    '070': 56,
    '08': null,
    '0': 0,
    '1TB': 1099511627776,
    '2GB': 2147483648,
    '1.0000001kB': 1024,
    '.5kB': 512,
    '1.MB': null,
    '1B': 1,
    '3.5': 4,
    '2.5': 2,
    '1 e3': null,
    '4097.5kB': 4195840,
    '1e20': 1e20,
    '0x1f kB': 31744,
    '1KB': null,
};
test('lag values are read as Patroni 3.0.2 parse_int(value, "B") reads them', () => {
    for (const [text, expected] of Object.entries(PATRONI_PARSE_INT_B)) {
        assert.equal(parseSizeBytes(text), expected, JSON.stringify(text));
    }
});
//# sourceMappingURL=lag.test.js.map