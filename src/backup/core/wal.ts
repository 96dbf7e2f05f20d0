/**
 * WAL segment names and LSNs (16 MiB segments, PostgreSQL's default and the only size keel
 * backs up today). Pure.
 */

export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;
const SEGMENTS_PER_XLOGID = 0x1_0000_0000 / WAL_SEGMENT_BYTES;

const SEGMENT_PATTERN = /^[0-9A-F]{24}$/;
const HISTORY_PATTERN = /^[0-9A-F]{8}\.history$/;
const PARTIAL_OR_BACKUP_PATTERN = /^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)$/;

/** True for a name archive-push may store: a segment, a .partial, a .backup file or a timeline history. */
export function isArchivableWalName(name: string): boolean {
  return SEGMENT_PATTERN.test(name) || HISTORY_PATTERN.test(name) || PARTIAL_OR_BACKUP_PATTERN.test(name);
}

export function isSegmentName(name: string): boolean {
  return SEGMENT_PATTERN.test(name);
}

/** Parses `16/B374D848` into a bigint byte position. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (match === null) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${match[1] ?? '0'}`) << 32n) | BigInt(`0x${match[2] ?? '0'}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The segment holding byte `lsn` on `timeline`. */
export function segmentOf(timeline: number, lsn: bigint): string {
  const segmentNumber = lsn / BigInt(WAL_SEGMENT_BYTES);
  const high = segmentNumber / BigInt(SEGMENTS_PER_XLOGID);
  const low = segmentNumber % BigInt(SEGMENTS_PER_XLOGID);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(high)}${hex(low)}`;
}

/** The segment after `name` on the same timeline. */
export function nextSegmentName(name: string): string {
  const timeline = parseInt(name.slice(0, 8), 16);
  const segmentNumber = BigInt(`0x${name.slice(8, 16)}`) * BigInt(SEGMENTS_PER_XLOGID) + BigInt(`0x${name.slice(16, 24)}`) + 1n;
  return segmentOf(timeline, segmentNumber * BigInt(WAL_SEGMENT_BYTES));
}

/** Archive sub-directory of a WAL file, as pgBackRest groups them: the first 16 characters. */
export function archiveDirOf(walName: string): string {
  return HISTORY_PATTERN.test(walName) ? 'history' : walName.slice(0, 16);
}
