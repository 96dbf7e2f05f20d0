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
/** A page copied here when its bytes are not 4-byte aligned (an Int32Array view needs alignment). */
const alignedCopy = new Int32Array(BLOCK_BYTES / 4);

/** One step of a sum: FNV-1a with an extra shift (CHECKSUM_COMP), on int32 bits. */
function mix(sum: number, value: number): number {
  const tmp = sum ^ value;
  return Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17);
}

/**
 * pg_checksum_page: the checksum PostgreSQL stores in pd_checksum for `page` at block `blockNo`.
 * The page is read as native-endian 32-bit words, as checksum_impl.h casts it (a backup reads
 * every page of a cluster with checksums on, so this runs on an Int32Array view, not per-byte reads).
 *
 * Each of the 32 sums only ever sees its own column of words (word j, j+32, j+64, ...), so the
 * sums are computed four at a time down their columns in local variables: the same result as
 * PostgreSQL's row-by-row loop, about twice as fast as keeping the 32 sums in an array
 * (Int32Array bits throughout, so V8 keeps every value a small integer, never a double).
 */
export function pageChecksum(page: Buffer, blockNo: number): number {
  let words: Int32Array;
  if (page.byteOffset % 4 === 0) words = new Int32Array(page.buffer, page.byteOffset, BLOCK_BYTES / 4);
  else {
    new Uint8Array(alignedCopy.buffer).set(page.subarray(0, BLOCK_BYTES));
    words = alignedCopy;
  }
  const wordCount = BLOCK_BYTES / 4;
  let result = 0;
  for (let j = 0; j < N_SUMS; j += 4) {
    let a = BASE_OFFSETS_SIGNED[j] as number;
    let b = BASE_OFFSETS_SIGNED[j + 1] as number;
    let c = BASE_OFFSETS_SIGNED[j + 2] as number;
    let d = BASE_OFFSETS_SIGNED[j + 3] as number;
    // pd_checksum (bytes 8-9: the low half of word 2 on a little-endian host) counts as zero
    const third = j === 0 ? (words[2] as number) & 0xffff0000 : (words[j + 2] as number);
    a = mix(a, words[j] as number);
    b = mix(b, words[j + 1] as number);
    c = mix(c, third);
    d = mix(d, words[j + 3] as number);
    for (let i = j + N_SUMS; i < wordCount; i += N_SUMS) {
      a = mix(a, words[i] as number);
      b = mix(b, words[i + 1] as number);
      c = mix(c, words[i + 2] as number);
      d = mix(d, words[i + 3] as number);
    }
    // two rounds of zeros, then xor-folded
    result ^= mix(mix(a, 0), 0) ^ mix(mix(b, 0), 0) ^ mix(mix(c, 0), 0) ^ mix(mix(d, 0), 0);
  }
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
