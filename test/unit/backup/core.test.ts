/**
 * The pure parts of keel backup: pgBackRest's labels, retention (what expire removes), the choice
 * of backup for a restore target, block planning for incrementals, manifest validation, WAL names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeLabel, parseLabel, compareLabels } from '../../../src/backup/core/label.js';
import { planExpire, planArchiveRetention } from '../../../src/backup/core/retention.js';
import { selectBackup, whyBeyondArchive, xidPrecedes } from '../../../src/backup/core/select.js';
import { archiveGaps } from '../../../src/backup/core/archive-gaps.js';
import { parseControlIdentity } from '../../../src/backup/core/pg-control.js';
import { blockSpans, blocksToStore } from '../../../src/backup/core/blocks.js';
import {
  validateManifest,
  blockIndex,
  blockRecordsOf,
  referencedPacks,
  storedManifest,
  MANIFEST_FORMAT,
  type DeltaBlockRef,
  type Manifest,
  type ManifestFile,
} from '../../../src/backup/core/manifest.js';
import { BlockRecords, RECORD_BYTES } from '../../../src/backup/core/block-records.js';
import { blockHash } from '../../../src/backup/object-codec.js';
import { segmentOf, parseLsn, formatLsn, archiveDirOf, isArchivableWalName, segmentEndLsn, walHeaderSystemId } from '../../../src/backup/core/wal.js';

const at = (text: string) => new Date(text);

test('labels follow pgBackRest: full YYYYMMDD-HHMMSSF, diff/incr prefixed by their full, ordered by time', () => {
  const full = makeLabel('full', at('2024-01-15T14:00:00'), null, null);
  assert.equal(full, '20240115-140000F');
  const diff = makeLabel('diff', at('2024-01-16T02:00:00'), full, full);
  assert.equal(diff, '20240115-140000F_20240116-020000D');
  assert.equal(makeLabel('incr', at('2024-01-16T03:00:00'), full, diff), '20240115-140000F_20240116-030000I');
  assert.deepEqual(parseLabel(diff), { type: 'diff', fullLabel: full, stamp: '20240116-020000' });
  assert.equal(parseLabel('20240115-140000X'), null);
  // two backups in the same second: the second label is pushed on so labels stay ordered and unique
  assert.equal(makeLabel('incr', at('2024-01-16T02:00:00'), full, diff), '20240115-140000F_20240116-020001I');
  assert.ok(compareLabels(full, diff) < 0);
  assert.ok(compareLabels('20240117-000000F', diff) > 0);
});

test('retention keeps the newest retention-full fulls with their dependents; diffs by retention-diff', () => {
  const backups = [
    { label: '20240101-000000F', prior: null },
    { label: '20240101-000000F_20240102-000000D', prior: '20240101-000000F' },
    { label: '20240101-000000F_20240103-000000I', prior: '20240101-000000F_20240102-000000D' },
    { label: '20240104-000000F', prior: null },
    { label: '20240104-000000F_20240105-000000D', prior: '20240104-000000F' },
    { label: '20240104-000000F_20240106-000000D', prior: '20240104-000000F' },
    { label: '20240104-000000F_20240106-010000I', prior: '20240104-000000F_20240106-000000D' },
    { label: '20240107-000000F', prior: null },
  ];
  const plan = planExpire(backups, { retentionFull: 2, retentionDiff: 1 });
  assert.deepEqual(plan.expire, [
    { label: '20240101-000000F', why: 'repo1-retention-full=2' },
    { label: '20240101-000000F_20240102-000000D', why: 'depends on expired 20240101-000000F' },
    { label: '20240101-000000F_20240103-000000I', why: 'depends on expired 20240101-000000F_20240102-000000D' },
    { label: '20240104-000000F_20240105-000000D', why: 'repo1-retention-diff=1' },
  ]);
  assert.deepEqual(plan.keep, ['20240104-000000F', '20240104-000000F_20240106-000000D', '20240104-000000F_20240106-010000I', '20240107-000000F']);
  assert.deepEqual(planExpire(backups, { retentionFull: null, retentionDiff: null }).expire, []);
  assert.deepEqual(planExpire([], { retentionFull: 1, retentionDiff: null }), { expire: [], keep: [] });
});

test('restore picks --set, the newest backup, or for a time the newest that ended before it', () => {
  const backups = [
    { label: '20240101-000000F', stopTime: '2024-01-01T00:05:00Z', lsnStop: '0/3000100', xidMin: '1000' },
    { label: '20240101-000000F_20240102-000000I', stopTime: '2024-01-02T00:05:00Z', lsnStop: '0/9000100', xidMin: '5000' },
  ];
  const none = { kind: 'none' } as const;
  const time = (text: string) => ({ kind: 'time', at: at(text) }) as const;
  assert.deepEqual(selectBackup(backups, null, none), { ok: true, label: '20240101-000000F_20240102-000000I' });
  assert.deepEqual(selectBackup(backups, null, time('2024-01-01T12:00:00Z')), { ok: true, label: '20240101-000000F' });
  assert.deepEqual(selectBackup(backups, '20240101-000000F', none), { ok: true, label: '20240101-000000F' });
  const early = selectBackup(backups, null, time('2023-12-31T00:00:00Z'));
  assert.equal(early.ok, false);
  assert.match(early.ok ? '' : early.reason, /before the end of the oldest backup/);
  assert.match(String((selectBackup(backups, 'nope', none) as { reason: string }).reason), /not in the repository/);
  assert.equal(selectBackup([], null, none).ok, false);
  assert.equal(selectBackup(backups, '20240101-000000F_20240102-000000I', time('2024-01-01T12:00:00Z')).ok, false);
  // LSN: the newest backup that ends at or before it; xid: the newest that started before it could end
  assert.deepEqual(selectBackup(backups, null, { kind: 'lsn', lsn: 0x5000000n }), { ok: true, label: '20240101-000000F' });
  assert.match(
    String((selectBackup(backups, null, { kind: 'lsn', lsn: 0x1000000n }) as { reason: string }).reason),
    /target lsn 0\/1000000 is before the end of the oldest backup: backup set 20240101-000000F ends at lsn 0\/3000100/,
  );
  assert.deepEqual(selectBackup(backups, null, { kind: 'xid', xid: 4000n }), { ok: true, label: '20240101-000000F' });
  assert.deepEqual(selectBackup(backups, null, { kind: 'xid', xid: 6000n }), { ok: true, label: '20240101-000000F_20240102-000000I' });
  assert.match(String((selectBackup(backups, null, { kind: 'xid', xid: 999n }) as { reason: string }).reason), /started after transaction 999 ended/);
  assert.equal(xidPrecedes(4294967290n, 5n), true, 'xids compare modulo 2^32 (wraparound)');
  // the end of the archive: a time after its last segment was stored, an LSN past its last segment
  const end = { lastSegment: '000000010000000000000009', endLsn: segmentEndLsn('000000010000000000000009'), lastArchivedAt: at('2024-01-03T00:00:00Z') };
  assert.equal(end.endLsn, 0xa000000n);
  assert.match(
    whyBeyondArchive(time('2024-01-04T00:00:00Z'), end) ?? '',
    /after the end of the WAL archive \(the last segment, 000000010000000000000009, was archived at 2024-01-03/,
  );
  assert.equal(whyBeyondArchive(time('2024-01-02T00:00:00Z'), end), null);
  assert.match(whyBeyondArchive({ kind: 'lsn', lsn: 0xa000000n }, end) ?? '', /ends at lsn 0\/A000000/);
  assert.equal(whyBeyondArchive({ kind: 'lsn', lsn: 0x9ffffffn }, end), null);
});

test('archive retention keeps continuous WAL from the oldest retained backup, and each older backup its own start..stop', () => {
  const kept = [
    { label: '20240101-000000F', dbId: 1, walStart: '000000010000000000000002', walStop: '000000010000000000000003' },
    { label: '20240102-000000F', dbId: 1, walStart: '000000010000000000000008', walStop: '000000010000000000000008' },
    { label: '20240102-000000F_20240103-000000D', dbId: 1, walStart: '00000001000000000000000C', walStop: '00000001000000000000000C' },
  ];
  const policy = { retentionArchive: 1, retentionArchiveType: 'full', retentionFull: 2, retentionDiff: null } as const;
  const from = (plan: ReturnType<typeof planArchiveRetention>) => plan.keeps.map((k) => k.from);
  assert.deepEqual(planArchiveRetention(kept, [1], 1, policy), {
    keeps: [{ dbId: 1, keepAll: false, from: '000000010000000000000008', ranges: [{ start: '000000010000000000000002', stop: '000000010000000000000003' }] }],
    notice: null,
  });
  // diff counts fulls and diffs; unset, the count is retention-full (type full) or retention-diff (type diff)
  assert.deepEqual(from(planArchiveRetention(kept, [1], 1, { ...policy, retentionArchiveType: 'diff' })), ['00000001000000000000000C']);
  assert.deepEqual(from(planArchiveRetention(kept, [1], 1, { ...policy, retentionArchive: null })), ['000000010000000000000002']);
  // nothing set: pgBackRest expires no WAL at all
  const unset = planArchiveRetention(kept, [1], 1, { ...policy, retentionArchive: null, retentionFull: null });
  assert.equal(unset.notice, "option 'repo1-retention-archive' is not set - archive logs will not be expired");
  assert.deepEqual(
    unset.keeps.map((k) => k.keepAll),
    [true],
  );
  // fewer fulls than the count: WAL is kept from the oldest full
  assert.deepEqual(from(planArchiveRetention(kept, [1], 1, { ...policy, retentionArchive: 5 })), ['000000010000000000000002']);
  // after stanza-upgrade: the old database keeps PITR from its newest backup, a database without backups loses its WAL unless current
  const upgraded = [...kept.slice(0, 2), { label: '20240105-000000F', dbId: 2, walStart: '000000010000000000000002', walStop: '000000010000000000000002' }];
  assert.deepEqual(planArchiveRetention(upgraded, [1, 2], 2, policy).keeps, [
    { dbId: 1, keepAll: false, from: '000000010000000000000008', ranges: [{ start: '000000010000000000000002', stop: '000000010000000000000003' }] },
    { dbId: 2, keepAll: false, from: '000000010000000000000002', ranges: [] },
  ]);
  assert.deepEqual(planArchiveRetention(upgraded.slice(2), [1, 2], 2, policy).keeps, [
    { dbId: 1, keepAll: false, from: null, ranges: [] },
    { dbId: 2, keepAll: false, from: '000000010000000000000002', ranges: [] },
  ]);
});

test('archive gaps: missing segments between archived ones of a timeline, from where the archive must be continuous', () => {
  const names = [
    '000000010000000000000002',
    '000000010000000000000003',
    '000000010000000000000006',
    '00000002.history',
    '000000020000000000000006',
    '000000020000000000000007',
  ];
  assert.deepEqual(archiveGaps(names, null), [{ start: '000000010000000000000004', stop: '000000010000000000000005', count: 2 }]);
  assert.deepEqual(archiveGaps(names, '000000010000000000000006'), []);
  assert.deepEqual(archiveGaps(names.slice(1), '000000010000000000000001'), [
    { start: '000000010000000000000001', stop: '000000010000000000000002', count: 2 },
    { start: '000000010000000000000004', stop: '000000010000000000000005', count: 2 },
  ]);
});

test('WAL headers and pg_control name their cluster (system identifier)', () => {
  const page = Buffer.alloc(40);
  page.writeUInt16LE(0xd110, 0);
  page.writeUInt16LE(0x0002, 2);
  page.writeBigUInt64LE(7301234567890123456n, 24);
  assert.equal(walHeaderSystemId(page), '7301234567890123456');
  assert.equal(walHeaderSystemId(Buffer.from('START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n')), null);
  const control = Buffer.alloc(16);
  control.writeBigUInt64LE(7301234567890123456n, 0);
  control.writeUInt32LE(1300, 8);
  control.writeUInt32LE(202209061, 12);
  assert.deepEqual(parseControlIdentity(control), { systemId: '7301234567890123456', controlVersion: 1300, catalogVersion: 202209061 });
});

test('block planning: 8 KiB spans, and only unknown blocks are stored, once', () => {
  assert.deepEqual(blockSpans(20_000, 8192), [
    { offset: 0, length: 8192 },
    { offset: 8192, length: 8192 },
    { offset: 16384, length: 3616 },
  ]);
  assert.deepEqual(blockSpans(0, 8192), []);
  assert.deepEqual(blocksToStore(['a', 'b', 'a', 'c', 'b'], new Set(['b'])), ['a', 'c']);
});

const H1 = blockHash(Buffer.alloc(8192, 1));
const H2 = blockHash(Buffer.alloc(4096, 2));

/** A manifest as a backup holds it in memory (block references as arrays); format 4 unless told. */
function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    format: 4,
    label: '20240101-000000F_20240102-000000I',
    type: 'incr',
    prior: '20240101-000000F',
    dbId: 1,
    references: ['20240101-000000F'],
    startTime: '2024-01-02T00:00:00Z',
    stopTime: '2024-01-02T00:00:05Z',
    pg: { version: '15', systemId: '1', dataChecksums: true },
    timeline: 1,
    lsnStart: '0/2000028',
    lsnStop: '0/2000100',
    walStart: '000000010000000000000002',
    walStop: '000000010000000000000002',
    xidMin: '740',
    fromStandby: false,
    compressType: 'zst',
    cipherType: 'none',
    blockBytes: 8192,
    packs: ['pack/20240101-000000F/000001.pack', 'pack/20240101-000000F_20240102-000000I/000001.pack'],
    dirs: [{ path: 'base', mode: 0o700 }],
    tablespaces: [],
    files: [
      {
        path: 'base/1/1259',
        mode: 0o600,
        mtimeMs: 0,
        size: 12288,
        blocks: [
          [H1, 0, 0, 100, 0, 8192],
          [H2, 1, 0, 50, 0, 4096],
        ],
      },
    ],
    sizes: { database: 12288, newStored: 50, referencedStored: 150, newPlain: 4096 },
    ...overrides,
  };
}

test('a manifest is self-contained: every block has its pack, so packs referenced by kept manifests are all GC keeps', () => {
  const valid = manifest();
  assert.equal(validateManifest(JSON.parse(JSON.stringify(valid))).label, valid.label);
  assert.deepEqual([...referencedPacks([valid])].sort(), [...valid.packs].sort());
  assert.deepEqual(blockIndex(valid).get(H2), { pack: valid.packs[1], frameOffset: 0, frameStoredBytes: 50, offsetInFrame: 0, plainBytes: 4096 });
  assert.throws(() => validateManifest({ ...valid, format: 1 }), /format 1/);
  assert.throws(() => validateManifest(manifest({ files: [{ ...valid.files[0]!, path: '../etc/passwd' }] })), /not a relative path/);
  assert.throws(() => validateManifest(manifest({ files: [{ ...valid.files[0]!, size: 1 }] })), /blocks add up to 12288 bytes, not 1/);
  assert.throws(() => validateManifest(manifest({ packs: [valid.packs[0]!] })), /references a pack that is not listed/);
  // format 4: a CRC-32 per block, or none (format 3 and older, or a Node without zlib.crc32)
  const withCrcs = manifest({ files: [{ ...valid.files[0]!, crc32: [0, 0xffff_ffff] }] });
  assert.deepEqual(validateManifest(JSON.parse(JSON.stringify(withCrcs))).files[0]?.crc32, [0, 0xffff_ffff]);
  for (const crc32 of [[1], [1, 2, 3], [1, -1], [1, 2 ** 32], [1, 1.5], [1, '2']]) {
    assert.throws(
      () => validateManifest(manifest({ files: [{ ...valid.files[0]!, crc32: crc32 as number[] }] })),
      /malformed crc32 list/,
      JSON.stringify(crc32),
    );
  }
  assert.throws(() => validateManifest({ ...withCrcs, format: 3 }), /malformed crc32 list/, 'a format 3 manifest has none');
});

test("format 5 stores each file's blocks as packed records and reads them back as they were", () => {
  const delta: DeltaBlockRef = [H2, 1, 200, 50, 8192, 4096, 0, 0, 100, 4096];
  const inMemory = manifest({
    files: [{ path: 'base/1/1259', mode: 0o600, mtimeMs: 5, size: 12288, blocks: [[H1, 0, 0, 100, 0, 8192], delta], crc32: [7, 0xffff_ffff], badPages: [1] }],
  });
  const stored = JSON.parse(JSON.stringify(storedManifest(inMemory))) as { format: number; files: Record<string, unknown>[] };
  assert.equal(stored.format, MANIFEST_FORMAT);
  assert.equal(MANIFEST_FORMAT, 5);
  assert.deepEqual(Object.keys(stored.files[0] ?? {}).sort(), ['badPages', 'blockRecords', 'crc32Recorded', 'mode', 'mtimeMs', 'path', 'size']);
  assert.equal((stored.files[0]?.blockRecords as string).length, (2 * RECORD_BYTES * 4) / 3, 'base64 of two records');

  // read back: the records as stored, not decoded, until blocks or crc32 is read
  const read = validateManifest(JSON.parse(JSON.stringify(stored)));
  const file = read.files[0] as ManifestFile;
  const { records, crc32Recorded } = blockRecordsOf(file);
  assert.equal(crc32Recorded, true);
  assert.deepEqual(
    [records.count, records.hash(1), records.crc(1), records.isDelta(0), records.isDelta(1), records.baseOffsetInFrame(1)],
    [2, H2, 0xffff_ffff, false, true, 4096],
  );
  assert.deepEqual(records.refs(), inMemory.files[0]?.blocks);
  // a chunk's copy has an ArrayBuffer of its own: a worker message carrying a view clones the whole buffer
  const second = records.copy(1, 5);
  assert.deepEqual([second.byteLength, second.buffer.byteLength, new BlockRecords(second).hash(0)], [RECORD_BYTES, RECORD_BYTES, H2]);
  // records at an odd offset (a Buffer view) are copied to be read as 32-bit words
  const misaligned = Buffer.concat([Buffer.alloc(1), records.bytes]).subarray(1);
  assert.deepEqual(
    [misaligned.byteOffset % 4 !== 0, new BlockRecords(misaligned).hash(1), new BlockRecords(misaligned).baseOffsetInFrame(1)],
    [true, H2, 4096],
  );
  assert.deepEqual([file.blocks, file.crc32, file.badPages, file.size, file.mtimeMs], [inMemory.files[0]?.blocks, [7, 0xffff_ffff], [1], 12288, 5]);
  // once read, the arrays are the file's blocks: a change to them is what a new commit stores
  (file.crc32 as number[])[0] = 8;
  const again = validateManifest(JSON.parse(JSON.stringify(storedManifest(read))));
  assert.deepEqual(again.files[0]?.crc32, [8, 0xffff_ffff]);
  assert.deepEqual(blockIndex(again).get(H2), {
    pack: inMemory.packs[1],
    frameOffset: 200,
    frameStoredBytes: 50,
    offsetInFrame: 8192,
    plainBytes: 4096,
    base: { pack: inMemory.packs[0], frameOffset: 0, frameStoredBytes: 100, offsetInFrame: 4096 },
  });

  // without CRC-32s (a Node without zlib.crc32), and a file with no block
  const bare = manifest({
    files: [
      { path: 'PG_VERSION', mode: 0o600, mtimeMs: 0, size: 0, blocks: [] },
      { ...(inMemory.files[0] as ManifestFile), crc32: undefined },
    ],
  });
  const bareRead = validateManifest(JSON.parse(JSON.stringify(storedManifest(bare))));
  assert.deepEqual(
    [bareRead.files[0]?.blocks, bareRead.files[1]?.crc32, blockRecordsOf(bareRead.files[1] as ManifestFile).crc32Recorded],
    [[], undefined, false],
  );

  // what the check refuses, one line each
  const broken =
    (change: Record<string, unknown>, packs = inMemory.packs) =>
    () =>
      validateManifest({ ...stored, packs, files: [{ ...stored.files[0], ...change }] });
  assert.throws(broken({ size: 1 }), /base\/1\/1259: blocks add up to 12288 bytes, not 1/);
  assert.throws(broken({}, [inMemory.packs[0] as string]), /base\/1\/1259: block 1 references pack 1, which is not listed/);
  assert.throws(broken({ blockRecords: (stored.files[0]?.blockRecords as string).slice(0, 8) }), /not a whole number of 72-byte records/);
  assert.throws(broken({ blockRecords: undefined }), /base\/1\/1259 has no block records/);
  assert.throws(broken({ crc32Recorded: 'yes' }), /has no block records/);
  assert.throws(() => BlockRecords.fromRefs([['not-a-hash', 0, 0, 1, 0, 1]], null), /is not a base64url SHA-256/);
});

test('WAL names: segment of an LSN, archive directories, what archive-push accepts', () => {
  assert.equal(segmentOf(1, parseLsn('0/3000028')), '000000010000000000000003');
  assert.equal(segmentOf(2, parseLsn('1/FF000000')), '0000000200000001000000FF');
  assert.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848');
  assert.equal(archiveDirOf('000000010000000000000003'), '0000000100000000');
  assert.equal(archiveDirOf('00000002.history'), 'history');
  for (const name of ['000000010000000000000003', '00000002.history', '000000010000000000000003.partial', '000000010000000000000003.00000028.backup']) {
    assert.ok(isArchivableWalName(name), name);
  }
  assert.ok(!isArchivableWalName('../etc/passwd'));
  assert.throws(() => parseLsn('nope'), /not an LSN/);
});
