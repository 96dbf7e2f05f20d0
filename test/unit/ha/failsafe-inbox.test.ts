/**
 * The member's side of failsafe_mode (POST /failsafe): Patroni's refusals, and keel's refusal of
 * a poster that etcd, read within ttl, does not show holding the leader key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailsafeInbox } from '../../../src/ha/failsafe.js';

const BODY = { name: 'node2', conn_url: 'postgres://10.0.0.2:5432/postgres', api_url: 'http://10.0.0.2:8008/patroni' };

test("POST /failsafe: Patroni's refusals (mode off, running as a leader, racing) record nothing", () => {
  const inbox = new FailsafeInbox();
  assert.equal(inbox.accept(BODY, 100, false, false, null).code, 502);
  assert.equal(inbox.accept(BODY, 100, true, true, null).code, 500);
  inbox.racing = true;
  assert.equal(inbox.accept(BODY, 100, true, false, null).code, 503);
  assert.equal(inbox.heard, null);
});

test('POST /failsafe from the key holder, or with no holder known, is accepted and remembered for ttl', () => {
  const inbox = new FailsafeInbox();
  assert.deepEqual(inbox.accept(BODY, 100, true, false, 'node2'), { code: 200, text: 'Accepted' });
  assert.deepEqual(inbox.heard, { name: 'node2', connUrl: BODY.conn_url, atMs: 100 });
  assert.equal(inbox.accept({ ...BODY }, 200, true, false, null).code, 200);
  assert.equal(inbox.active(200 + 9_999, 10_000), true);
  assert.equal(inbox.active(200 + 10_000, 10_000), false);
});

test('POST /failsafe from a member etcd does not show holding the key (a leader resumed after its lease ran out) is refused', () => {
  const inbox = new FailsafeInbox();
  assert.deepEqual(inbox.accept(BODY, 100, true, false, 'node3'), { code: 409, text: 'node3 holds the leader key' });
  assert.equal(inbox.heard, null, 'nothing remembered: this member keeps racing for a released key');
  assert.equal(inbox.accept({ conn_url: 'x' }, 100, true, false, 'node3').code, 400, 'a body without a name is a bad request first');
});
