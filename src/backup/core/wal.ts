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

/** Offset of xlp_sysid in a segment's first page (XLogLongPageHeaderData, after the 24-byte short header). */
const LONG_HEADER_SYSID_OFFSET = 24;
/** XLP_LONG_HEADER in xlp_info: the first page of a segment carries the system identifier. */
const XLP_LONG_HEADER = 0x0002;

/**
 * The system identifier a WAL segment's first page names (its long header), or null when the
 * bytes are not a segment start (a history or .backup file, or too short). Pure.
 */
export function walHeaderSystemId(bytes: Uint8Array): string | null {
  if (bytes.length < LONG_HEADER_SYSID_OFFSET + 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  const info = view.getUint16(2, true);
  // XLOG_PAGE_MAGIC is 0xD0xx-0xD1xx for every supported release; anything else is not a segment
  if ((magic & 0xfe00) !== 0xd000 || (info & XLP_LONG_HEADER) === 0) return null;
  return view.getBigUint64(LONG_HEADER_SYSID_OFFSET, true).toString();
}

/** The LSN just after segment `name` (where the next segment starts). */
export function segmentEndLsn(name: string): bigint {
  const high = BigInt(`0x${name.slice(8, 16)}`);
  const low = BigInt(`0x${name.slice(16, 24)}`);
  return (high * BigInt(SEGMENTS_PER_XLOGID) + low + 1n) * BigInt(WAL_SEGMENT_BYTES);
}

/** A segment's position on its timeline (timeline ignored), for ordering and gap finding. */
export function segmentPosition(name: string): bigint {
  return BigInt(`0x${name.slice(8, 16)}`) * BigInt(SEGMENTS_PER_XLOGID) + BigInt(`0x${name.slice(16, 24)}`);
}

/** The name of the segment at `position` on `timeline`. */
export function segmentAt(timeline: string, position: bigint): string {
  const hex = (n: bigint) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${timeline}${hex(position / BigInt(SEGMENTS_PER_XLOGID))}${hex(position % BigInt(SEGMENTS_PER_XLOGID))}`;
}
