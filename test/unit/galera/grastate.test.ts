/**
 * grastate.dat and `mariadbd --wsrep-recover` output, from files and logs MariaDB 10.11 with
 * Galera 26.4 wrote on this machine (a clean shutdown, a crash, a fresh node, a recovery).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGrastate, parseRecoveredPosition, renderGrastate } from '../../../src/galera/grastate.js';

const AFTER_CRASH = `# GALERA saved state
version: 2.1
uuid:    066d30c3-ee0c-11f1-9bd3-36e714e8bf10
seqno:   -1
safe_to_bootstrap: 0
`;

const AFTER_CLEAN_SHUTDOWN = `# GALERA saved state
version: 2.1
uuid:    066d30c3-ee0c-11f1-9bd3-36e714e8bf10
seqno:   1203
safe_to_bootstrap: 1
`;

const FRESH = `# GALERA saved state
version: 2.1
uuid:    00000000-0000-0000-0000-000000000000
seqno:   -1
safe_to_bootstrap: 0
`;

test('grastate.dat after a crash, a clean shutdown and on a fresh node', () => {
  assert.deepEqual(parseGrastate(AFTER_CRASH), {
    ok: true,
    value: { version: '2.1', uuid: '066d30c3-ee0c-11f1-9bd3-36e714e8bf10', seqno: -1, safeToBootstrap: false },
  });
  assert.deepEqual(parseGrastate(AFTER_CLEAN_SHUTDOWN), {
    ok: true,
    value: { version: '2.1', uuid: '066d30c3-ee0c-11f1-9bd3-36e714e8bf10', seqno: 1203, safeToBootstrap: true },
  });
  const fresh = parseGrastate(FRESH);
  assert.ok(fresh.ok);
  assert.equal(fresh.value.uuid, '00000000-0000-0000-0000-000000000000');
});

test('a rendered grastate.dat reads back the same, in the layout Galera writes', () => {
  const parsed = parseGrastate(AFTER_CLEAN_SHUTDOWN);
  assert.ok(parsed.ok);
  assert.equal(renderGrastate(parsed.value), AFTER_CLEAN_SHUTDOWN);
  assert.deepEqual(parseGrastate(renderGrastate({ ...parsed.value, safeToBootstrap: false })), {
    ok: true,
    value: { ...parsed.value, safeToBootstrap: false },
  });
});

test('a damaged grastate.dat is refused with the reason', () => {
  assert.deepEqual(parseGrastate(''), { ok: false, error: 'no valid uuid (got null)' });
  assert.equal(parseGrastate(AFTER_CRASH.replace('066d30c3', 'zz6d30c3')).ok, false);
  assert.match((parseGrastate(AFTER_CRASH.replace('seqno:   -1', 'seqno:   x')) as { error: string }).error, /seqno/);
  assert.match((parseGrastate(AFTER_CRASH.replace('seqno:   -1', 'seqno:   -7')) as { error: string }).error, /out of range/);
  assert.match((parseGrastate(AFTER_CRASH.replace('safe_to_bootstrap: 0', 'safe_to_bootstrap: yes')) as { error: string }).error, /safe_to_bootstrap/);
  assert.match((parseGrastate('garbage\n') as { error: string }).error, /unexpected line/);
});

const RECOVER_LOG = `2026-12-02  4:51:54 0 [Note] Starting MariaDB 10.11.19-MariaDB-0+deb12u1 source revision  as process 4242
2026-12-02  4:51:54 0 [Warning] Could not increase number of max_open_files to more than 20000 (request: 32184)
2026-12-02  4:51:54 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=47629
2026-12-02  4:51:54 0 [Note] WSREP: Recovered position: 066d30c3-ee0c-11f1-9bd3-36e714e8bf10:5
2026-12-02  4:51:54 0 [Note] Crash table recovery finished.
`;

test('the position mariadbd --wsrep-recover logs', () => {
  assert.deepEqual(parseRecoveredPosition(RECOVER_LOG), { ok: true, value: { uuid: '066d30c3-ee0c-11f1-9bd3-36e714e8bf10', seqno: 5 } });
  // a log appended to by two runs: the last line is this run's
  const twice = RECOVER_LOG + RECOVER_LOG.replace(':5\n', ':9\n');
  assert.deepEqual(parseRecoveredPosition(twice), { ok: true, value: { uuid: '066d30c3-ee0c-11f1-9bd3-36e714e8bf10', seqno: 9 } });
  // a data directory that never joined a cluster
  assert.deepEqual(parseRecoveredPosition('[Note] WSREP: Recovered position: 00000000-0000-0000-0000-000000000000:-1\n'), {
    ok: true,
    value: { uuid: '00000000-0000-0000-0000-000000000000', seqno: -1 },
  });
  assert.equal(parseRecoveredPosition('[ERROR] InnoDB: corruption\n').ok, false);
});
