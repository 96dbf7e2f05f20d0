/**
 * POST /restart as Patroni 3.0.2 reads it: body validation (codes and messages, in Patroni's
 * order), the restart filters (restart_matches), the version parser, when a scheduled restart is
 * due, and the pending_restart_reason shape published in the member key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRestartRequest, postgresVersionToInt, restartMismatch, scheduledRestartTiming } from '../../../src/ha/restart-request.js';
import { pendingRestartReason } from '../../../src/ha/member-data.js';
const NOW = Date.parse('2026-12-02T02:00:00Z');
test('an empty body restarts now, unconditionally', () => {
    assert.deepEqual(parseRestartRequest({}, NOW, false), { ok: true, kind: 'now', filters: {} });
});
test('filters are parsed: role (master = primary), postgres_version, timeout with units, restart_pending by presence', () => {
    const parsed = parseRestartRequest({ role: 'master', postgres_version: '15.6', timeout: '2min', restart_pending: false }, NOW, false);
    assert.deepEqual(parsed, { ok: true, kind: 'now', filters: { role: 'primary', postgresVersion: '15.6', timeoutMs: 120_000, restartPending: true } });
});
test("bad requests answer Patroni's codes and messages", () => {
    const cases = [
        [{ role: 'leader' }, 400, 'PostgreSQL role should be either primary or replica'],
        [{ postgres_version: '10' }, 400, 'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 10'],
        [{ postgres_version: 'a.b' }, 400, 'Invalid PostgreSQL version: a.b'],
        [{ timeout: 0 }, 400, 'Timeout should be a positive number of seconds'],
        [{ timeout: 'soon' }, 400, 'Timeout should be a positive number of seconds'],
        [{ bogus: true }, 400, 'Unknown filter for the scheduled restart: bogus'],
        [{ schedule: '2026-12-02T03:00:00' }, 400, 'Timezone information is mandatory for the scheduled restart'],
        [{ schedule: '2026-12-02T01:00:00+00:00' }, 422, 'Cannot schedule restart in the past'],
        [{ schedule: 'tomorrow' }, 422, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601'],
    ];
    for (const [body, code, text] of cases)
        assert.deepEqual(parseRestartRequest(body, NOW, false), { ok: false, code, text }, JSON.stringify(body));
});
test('the first bad key answers (Patroni checks keys in order)', () => {
    assert.equal(parseRestartRequest({ bogus: 1, role: 'x' }, NOW, false).text, 'Unknown filter for the scheduled restart: bogus');
});
test('a schedule in the paused state is refused before anything else (500)', () => {
    assert.deepEqual(parseRestartRequest({ schedule: 'garbage' }, NOW, true), { ok: false, code: 500, text: "Can't schedule restart in the paused state" });
    assert.equal(parseRestartRequest({}, NOW, true).ok, true, 'an immediate restart is allowed in pause');
});
test('a scheduled restart keeps its schedule (offset normalised) and its filters', () => {
    const parsed = parseRestartRequest({ schedule: '2026-12-02T04:30:00+0200', role: 'replica' }, NOW, false);
    assert.ok(parsed.ok && parsed.kind === 'scheduled');
    assert.equal(parsed.scheduled.atWallMs, Date.parse('2026-12-02T02:30:00Z'));
    assert.equal(parsed.scheduled.scheduleIso, '2026-12-02T04:30:00+02:00');
    assert.deepEqual(parsed.scheduled.filters, { role: 'replica' });
    assert.deepEqual(parsed.scheduled.raw, { schedule: '2026-12-02T04:30:00+02:00', role: 'replica' });
    const utc = parseRestartRequest({ schedule: '2026-12-02T02:30:00Z' }, NOW, false);
    assert.ok(utc.ok && utc.kind === 'scheduled');
    assert.equal(utc.scheduled.scheduleIso, '2026-12-02T02:30:00+00:00');
});
test('postgres_version_to_int as Patroni computes it', () => {
    assert.equal(postgresVersionToInt('9.5.3'), 90503);
    assert.equal(postgresVersionToInt('9.3.13'), 90313);
    assert.equal(postgresVersionToInt('10.1'), 100001);
    assert.equal(postgresVersionToInt('15.6'), 150006);
    assert.throws(() => postgresVersionToInt('9.6'), /X\.Y or X\.Y\.Z is accepted: 9\.6/);
});
test('restart_matches: role, version (restart only when older) and the pending flag', () => {
    const replica = { role: 'replica', serverVersion: 150006, pendingRestart: false };
    assert.equal(restartMismatch({}, replica), null);
    assert.equal(restartMismatch({ role: 'primary' }, replica), 'host role mismatch');
    assert.equal(restartMismatch({ role: 'replica' }, replica), null);
    assert.equal(restartMismatch({ postgresVersion: '15.6' }, replica), 'postgres version mismatch');
    assert.equal(restartMismatch({ postgresVersion: '15.7' }, replica), null);
    assert.equal(restartMismatch({ restartPending: true }, replica), 'pending restart flag is not set');
    assert.equal(restartMismatch({ restartPending: true }, { ...replica, pendingRestart: true }), null);
});
test('a scheduled restart waits until its time, runs then, and is dropped when the loop missed it by 1.5 x loop_wait', () => {
    const at = NOW + 60_000;
    assert.equal(scheduledRestartTiming(at, NOW, 10_000), 'wait');
    assert.equal(scheduledRestartTiming(at, at - 500, 10_000), 'run', 'the loop wakes slightly early');
    assert.equal(scheduledRestartTiming(at, at + 14_000, 10_000), 'run');
    assert.equal(scheduledRestartTiming(at, at + 16_000, 10_000), 'stale');
});
test("pending_restart_reason: Patroni's {param: {old_value, new_value}} from what runs and what the file says", () => {
    assert.deepEqual(pendingRestartReason([
        { name: 'shared_buffers', runningValue: '32MB' },
        { name: 'max_wal_senders', runningValue: '10' },
    ], { shared_buffers: '48MB' }), { shared_buffers: { old_value: '32MB', new_value: '48MB' }, max_wal_senders: { old_value: '10', new_value: '' } });
});
//# sourceMappingURL=restart-request.test.js.map