/**
 * PostgreSQL's data page checksums (storage/checksum_impl.h), checked while a backup reads
 * relation files, as pgBackRest does when pg_control shows data checksums on: a bad page is
 * reported (file and block), the backup still completes, and `info` shows it.
 *
 * The algorithm: 32 parallel FNV-1a-like sums over the 8 KiB page read as 32-bit words, two
 * rounds of zeros, xor-folded; pd_checksum counts as zero; the block number (across 1 GiB
 * segments) is mixed in; reduced to 16 bits with an offset of one. Pure functions, no I/O.
 */

const BLOCK_BYTES = 8192;
const N_SUMS = 32;
const FNV_PRIME = 16777619;
/** Blocks per 1 GiB segment file (RELSEG_SIZE with 8 KiB blocks). */
export const BLOCKS_PER_SEGMENT = 131072;
const BASE_OFFSETS = new Uint32Array([
  0x5b1f36e9, 0xb8525960, 0x02ab50aa, 0x1de66d2a, 0x79ff467a, 0x9bb9f8a3, 0x217e7cd2, 0x83e13d2c, 0xf8d4474f, 0xe39eb970, 0x42c6ae16, 0x993216fa, 0x7b093b5d,
  0x98daff3c, 0xf718902a, 0x0b1c9cdb, 0xe58f764b, 0x187636bc, 0x5d7b3bb1, 0xe73de7de, 0x92bec979, 0xcca6c0b2, 0x304a0979, 0x85aa43d4, 0x783125bb, 0x6ca8eaa2,
  0xe407eac6, 0x4b5cfc3e, 0x9fbf8c76, 0x15ca20be, 0xf2ca9fd3, 0x959bd756,
]);
const BASE_OFFSETS_SIGNED = new Int32Array(BASE_OFFSETS.buffer);
// Int32Array, not Uint32Array: the same bits, but every value stays a small integer to V8 (no doubles)
const sums = new Int32Array(N_SUMS);
/** A page copied here when its bytes are not 4-byte aligned (an Int32Array view needs alignment). */
const alignedCopy = new Int32Array(BLOCK_BYTES / 4);

/**
 * pg_checksum_page: the checksum PostgreSQL stores in pd_checksum for `page` at block `blockNo`.
 * The page is read as native-endian 32-bit words, as checksum_impl.h casts it (a backup reads
 * every page of a cluster with checksums on, so this runs on a Uint32Array view, not per-byte reads).
 */
export function pageChecksum(page: Buffer, blockNo: number): number {
  let words: Int32Array;
  if (page.byteOffset % 4 === 0) words = new Int32Array(page.buffer, page.byteOffset, BLOCK_BYTES / 4);
  else {
    new Uint8Array(alignedCopy.buffer).set(page.subarray(0, BLOCK_BYTES));
    words = alignedCopy;
  }
  sums.set(BASE_OFFSETS_SIGNED);
  for (let row = 0; row < BLOCK_BYTES / 4; row += N_SUMS) {
    for (let j = 0; j < N_SUMS; j++) {
      let value = words[row + j] as number;
      // pd_checksum (bytes 8-9: the low half of word 2 on a little-endian host) counts as zero
      if (row === 0 && j === 2) value &= 0xffff0000;
      const tmp = (sums[j] as number) ^ value;
      sums[j] = Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17);
    }
  }
  for (let round = 0; round < 2; round++) {
    for (let j = 0; j < N_SUMS; j++) {
      const tmp = sums[j] as number;
      sums[j] = Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17);
    }
  }
  let result = 0;
  for (let j = 0; j < N_SUMS; j++) result ^= sums[j] as number;
  result = (result ^ blockNo) >>> 0;
  return (result % 65535) + 1;
}

/** The page's LSN (pd_lsn: xlogid, xrecoff). */
export function pageLsn(page: Buffer): bigint {
  return (BigInt(page.readUInt32LE(0)) << 32n) | BigInt(page.readUInt32LE(4));
}

/**
 * Whether a full page read during a backup that started at `backupStartLsn` fails its checksum.
 * Not checked: a new page (pd_upper 0, e.g. all zeros), and a page whose LSN is at or after the
 * backup's start, which PostgreSQL was writing while it was read (WAL replay rewrites it).
 */
export function pageChecksumFails(page: Buffer, blockNo: number, backupStartLsn: bigint): boolean {
  if (page.length !== BLOCK_BYTES) return false;
  if (page.readUInt16LE(14) === 0) return false;
  if (pageLsn(page) >= backupStartLsn) return false;
  return pageChecksum(page, blockNo) !== page.readUInt16LE(8);
}

/**
 * The first block number of a relation file, or null when `path` (relative to the data
 * directory) is not a relation file: `base/<db>/<relfilenode>[_fork][.<segment>]`,
 * `global/<relfilenode>...`, `pg_tblspc/<oid>/<version dir>/<db>/<relfilenode>...`.
 */
export function relationFirstBlock(path: string): number | null {
  const match = /^(?:base\/\d+|global|pg_tblspc\/\d+\/[^/]+\/\d+)\/\d+(?:_(?:fsm|vm|init))?(?:\.(\d+))?$/.exec(path);
  if (match === null) return null;
  return Number(match[1] ?? 0) * BLOCKS_PER_SEGMENT;
}

/** Page numbers as pgBackRest lists them: singles and [first, last] runs. */
export function pageRanges(pages: readonly number[]): (number | [number, number])[] {
  const out: (number | [number, number])[] = [];
  const sorted = [...pages].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    out.push(i === j ? (sorted[i] as number) : [sorted[i] as number, sorted[j] as number]);
    i = j + 1;
  }
  return out;
}
