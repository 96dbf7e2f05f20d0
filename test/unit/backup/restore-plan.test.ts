/**
 * Restore's checks before writing: where each tablespace goes (pgBackRest's rules: a map by name
 * or oid, else --tablespace-map-all/<name>, else where it was; a map naming no tablespace, two
 * maps disagreeing, a relative path or a destination inside pg1-path are errors), and recovery
 * targets parsed into what the backup choice checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tablespaceDestinations, checkableTarget } from '../../../src/backup/restore-plan.js';
import type { Manifest } from '../../../src/backup/core/manifest.js';

const manifest = {
  label: '20240101-000000F',
  tablespaces: [
    { oid: 16385, name: 'fast', path: '/ssd/fast' },
    { oid: 16386, name: 'slow', path: '/hdd/slow' },
  ],
} as unknown as Manifest;
const where = (map: [string, string][], mapAll: string | null) =>
  tablespaceDestinations(manifest, { map: new Map(map), mapAll }, '/restore/data').map((t) => [t.name, t.destination]);

test('tablespace destinations: by name or oid, then --tablespace-map-all/<name>, else the original path', () => {
  assert.deepEqual(where([], null), [
    ['fast', '/ssd/fast'],
    ['slow', '/hdd/slow'],
  ]);
  assert.deepEqual(where([['fast', '/new/fast']], null), [
    ['fast', '/new/fast'],
    ['slow', '/hdd/slow'],
  ]);
  assert.deepEqual(where([['16386', '/new/slow']], '/all'), [
    ['fast', '/all/fast'],
    ['slow', '/new/slow'],
  ]);
  assert.throws(
    () => where([['nope', '/x']], null),
    /^KeelError: unable to remap invalid tablespace 'nope' \(--tablespace-map\): backup 20240101-000000F has tablespaces fast \(oid 16385\), slow \(oid 16386\)$/,
  );
  assert.throws(
    () =>
      where(
        [
          ['fast', '/a'],
          ['16385', '/b'],
        ],
        null,
      ),
    /tablespace remapped by name 'fast' and id 16385 with different paths/,
  );
  assert.throws(() => where([['fast', 'relative/dir']], null), /is not an absolute path/);
  assert.throws(() => where([['fast', '/restore/data/ts']], null), /is inside pg1-path \/restore\/data/);
});

test('recovery targets: a time, an LSN, an xid, or nothing to check; malformed ones are one-line errors', () => {
  const target = (type: string, text: string | null) =>
    checkableTarget({ type: type as 'time', target: text, targetAction: 'pause', targetExclusive: false, targetTimeline: null });
  assert.deepEqual(target('time', '2024-01-15 14:00:00+00'), { kind: 'time', at: new Date('2024-01-15T14:00:00Z') });
  assert.deepEqual(target('lsn', '1/5000028'), { kind: 'lsn', lsn: 0x105000028n });
  assert.deepEqual(target('xid', '1234'), { kind: 'xid', xid: 1234n });
  assert.deepEqual(target('name', 'before-drop'), { kind: 'none' });
  assert.throws(() => target('time', 'yesterday'), /--target 'yesterday' is not a time/);
  assert.throws(() => target('lsn', '5000028'), /--target '5000028' is not an LSN/);
  assert.throws(() => target('xid', '-3'), /--target '-3' is not a transaction id/);
});
