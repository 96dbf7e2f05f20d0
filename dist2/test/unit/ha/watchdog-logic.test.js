/** Watchdog rules: armed before promotion, kept alive, disabled; the device never outlives the lease. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watchdogBeforePromote, watchdogDisable, watchdogPingTimeoutMs, watchdogWhileLeader } from '../../../src/ha/core/watchdog-logic.js';
test('before promote: off -> nothing; required + unavailable -> refuse; available -> arm', () => {
    assert.deepEqual(watchdogBeforePromote('off', { available: false, armed: false }), []);
    assert.equal(watchdogBeforePromote('required', { available: false, armed: false }), null);
    assert.deepEqual(watchdogBeforePromote('automatic', { available: false, armed: false }), []);
    assert.deepEqual(watchdogBeforePromote('automatic', { available: true, armed: false }), [{ kind: 'watchdog', op: 'arm' }]);
});
test('while leader: keepalive when armed; disable only when armed', () => {
    assert.deepEqual(watchdogWhileLeader('required', { available: true, armed: true }), [{ kind: 'watchdog', op: 'keepalive' }]);
    assert.deepEqual(watchdogDisable({ available: true, armed: true }), [{ kind: 'watchdog', op: 'disable' }]);
    assert.deepEqual(watchdogDisable({ available: true, armed: false }), []);
});
test('ping timeout makes the device fire before the lease can expire, in whole seconds', () => {
    // keepalive sent at 0, ttl 30 s, margin 5 s: at t=2.5 s the device must fire by 25 s -> 22 s
    assert.equal(watchdogPingTimeoutMs(2500, 0, 30000, 5000), 22000);
    // confirmation came too late to ping safely
    assert.equal(watchdogPingTimeoutMs(24500, 0, 30000, 5000), null);
});
//# sourceMappingURL=watchdog-logic.test.js.map