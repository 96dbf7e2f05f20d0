/**
 * The JSON gateway encoding: base64 keys, int64 as strings, omitted zero values, prefix ranges,
 * and etcd error bodies mapped to typed errors (texts taken from etcd 3.4's answers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKeyValue, decodeResponseOp, decodeWatchResult, encodeCompare, encodeOp, encodeRange, leaseId, prefixRangeEnd, } from '../../../src/engine/etcd/etcd-wire.js';
import { EtcdError, errorFromBody } from '../../../src/engine/etcd/etcd-errors.js';
test('prefix range end increments the last byte below 0xff (Patroni prefix_range_end)', () => {
    assert.equal(prefixRangeEnd('/service/pg/').toString('utf8'), '/service/pg0');
    assert.deepEqual([...prefixRangeEnd('a\u00ff')], [0x61, 0xc3, 0xc0]);
    assert.deepEqual([...prefixRangeEnd('')], [0]);
    assert.deepEqual(encodeRange('/a/', true), { key: 'L2Ev', range_end: Buffer.from('/a0').toString('base64') });
});
test('compares and ops encode to the gateway shapes', () => {
    assert.deepEqual(encodeCompare({ key: 'k', target: 'CREATE', createRevision: 0 }), { key: 'aw==', target: 'CREATE', result: 'EQUAL', create_revision: '0' });
    assert.deepEqual(encodeCompare({ key: 'k', target: 'VALUE', value: 'n1' }), { key: 'aw==', target: 'VALUE', result: 'EQUAL', value: 'bjE=' });
    assert.deepEqual(encodeCompare({ key: 'k', target: 'LEASE', lease: '7587869427960893708' }), {
        key: 'aw==',
        target: 'LEASE',
        result: 'EQUAL',
        lease: '7587869427960893708',
    });
    assert.deepEqual(encodeOp({ put: { key: 'k', value: 'v', lease: '5' } }), { request_put: { key: 'aw==', value: 'dg==', lease: '5' } });
    assert.deepEqual(encodeOp({ put: { key: 'k', value: 'v', lease: null } }), { request_put: { key: 'aw==', value: 'dg==' } });
    assert.deepEqual(encodeOp({ deleteRange: { key: 'k' } }), { request_delete_range: { key: 'aw==' } });
});
test('key-values and responses decode with zero values omitted', () => {
    assert.deepEqual(decodeKeyValue({ key: 'YQ==', create_revision: '2', mod_revision: '3', version: '1', value: 'Yg==', lease: '4111120245253682438' }), {
        key: 'a',
        value: 'b',
        createRevision: 2,
        modRevision: 3,
        version: 1,
        lease: '4111120245253682438',
    });
    assert.equal(decodeKeyValue({ key: 'YQ==' }).lease, null);
    assert.equal(leaseId('0'), null);
    assert.deepEqual(decodeResponseOp({ response_put: { header: { revision: '2' } } }), { kind: 'put' });
    assert.deepEqual(decodeResponseOp({ response_delete_range: { deleted: '1' } }), { kind: 'deleteRange', deleted: 1 });
    const watch = decodeWatchResult({
        header: { revision: '3' },
        events: [{ type: 'DELETE', kv: { key: 'YQ==', mod_revision: '3' } }, { kv: { key: 'Yg==', mod_revision: '3' } }],
    });
    assert.deepEqual(watch.events.map((e) => [e.type, e.kv.key]), [
        ['DELETE', 'a'],
        ['PUT', 'b'],
    ]);
    const compacted = decodeWatchResult({ header: { raft_term: '2' }, canceled: true, compact_revision: '4' });
    assert.equal(compacted.canceled, true);
    assert.equal(compacted.compactRevision, 4);
});
test('etcd error bodies map to typed errors, unary and streaming', () => {
    const lease = errorFromBody({ error: 'etcdserver: requested lease not found', message: 'etcdserver: requested lease not found', code: 5 }, 404, 'h:1');
    assert.ok(lease instanceof EtcdError);
    assert.equal(lease.kind, 'lease_not_found');
    assert.equal(lease.endpointFailure, false);
    const token = errorFromBody({ error: 'etcdserver: invalid auth token', code: 16 }, 401, 'h:1');
    assert.equal(token?.kind, 'invalid_auth_token');
    const unavailable = errorFromBody({ error: 'etcdserver: request timed out', code: 14 }, 503, 'h:1');
    assert.equal(unavailable?.kind, 'unavailable');
    assert.equal(unavailable?.endpointFailure, true);
    const stream = errorFromBody({ error: { grpc_code: 11, http_code: 400, message: 'etcdserver: mvcc: required revision has been compacted' } }, 200, 'h:1');
    assert.equal(stream?.kind, 'compacted');
    assert.equal(stream?.httpStatus, 400);
    assert.equal(errorFromBody({ header: {} }, 200, 'h:1'), null);
});
test('answers: JSON object passes, a plain-text 404 is a missing route, a 503 text body is an endpoint failure', async () => {
    const { interpretAnswer } = await import('../../../src/engine/etcd/etcd-errors.js');
    assert.deepEqual(interpretAnswer({ status: 200, body: '{"header":{"revision":"1"}}' }, 'h:1'), { header: { revision: '1' } });
    assert.throws(() => interpretAnswer({ status: 404, body: 'Not Found\n' }, 'h:1'), (error) => error instanceof EtcdError && error.kind === 'route_not_found');
    assert.throws(() => interpretAnswer({ status: 503, body: 'upstream down' }, 'h:1'), (error) => error instanceof EtcdError && error.endpointFailure);
    assert.throws(() => interpretAnswer({ status: 404, body: '{"error":"etcdserver: requested lease not found","code":5}' }, 'h:1'), (error) => error instanceof EtcdError && error.kind === 'lease_not_found');
});
//# sourceMappingURL=etcd-wire.test.js.map