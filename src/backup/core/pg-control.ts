/**
 * The first fields of global/pg_control (ControlFileData): system identifier (uint64), then
 * pg_control_version and catalog_version_no (uint32), in the host's byte order (little-endian
 * here, as every platform keel runs on). archive-get reads them from the restored data directory
 * to find the database (stanza history entry) whose WAL it must serve. Pure.
 */

export interface ControlIdentity {
  systemId: string;
  controlVersion: number;
  catalogVersion: number;
}

export function parseControlIdentity(bytes: Uint8Array): ControlIdentity | null {
  if (bytes.length < 16) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    systemId: view.getBigUint64(0, true).toString(),
    controlVersion: view.getUint32(8, true),
    catalogVersion: view.getUint32(12, true),
  };
}
