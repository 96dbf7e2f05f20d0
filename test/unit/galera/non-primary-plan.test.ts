/** pc.bootstrap=YES on a Non-Primary component: only after the timeout, with nobody Primary elsewhere and nobody ahead. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NonPrimaryInput, planNonPrimary } from '../../../src/galera/core/non-primary-plan.js';

const U = '066d30c3-ee0c-11f1-9bd3-36e714e8bf10';
const base: NonPrimaryInput = {
  self: 'a',
  nonPrimaryForMs: 20_000,
  timeoutMs: 10_000,
  primaryClaims: [],
  uuid: U,
  lastCommitted: 50,
  positions: {},
  bootstrapLockHolder: null,
};

test('a lone survivor past the timeout re-bootstraps its component', () => {
  assert.deepEqual(planNonPrimary(base), { kind: 'pc_bootstrap' });
  assert.deepEqual(planNonPrimary({ ...base, positions: { b: { uuid: U, seqno: 50, safeToBootstrap: false } } }), { kind: 'pc_bootstrap' });
  assert.deepEqual(planNonPrimary({ ...base, bootstrapLockHolder: 'a', primaryClaims: ['a'] }), { kind: 'pc_bootstrap' });
});

test('it waits: before the timeout, while another side is Primary, behind a reported peer, during another bootstrap', () => {
  assert.match((planNonPrimary({ ...base, nonPrimaryForMs: 3_000 }) as { why: string }).why, /waiting 10 s/);
  assert.match((planNonPrimary({ ...base, primaryClaims: ['c', 'b'] }) as { why: string }).why, /^b, c are in a Primary component/);
  assert.match(
    (planNonPrimary({ ...base, positions: { b: { uuid: U, seqno: 51, safeToBootstrap: false } } }) as { why: string }).why,
    /b reported seqno 51, ahead/,
  );
  assert.match((planNonPrimary({ ...base, bootstrapLockHolder: 'c' }) as { why: string }).why, /c is bootstrapping/);
  // a position of another history says nothing about this one
  assert.deepEqual(planNonPrimary({ ...base, positions: { b: { uuid: '7a1f0000-ee0c-11f1-9bd3-36e714e8bf10', seqno: 999, safeToBootstrap: false } } }), {
    kind: 'pc_bootstrap',
  });
});
