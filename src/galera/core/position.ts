/**
 * A node's place in the Galera history: the cluster state UUID and the seqno of the last
 * transaction it applied, as grastate.dat or `mariadbd --wsrep-recover` tell it. Pure.
 */

/** The UUID of a node that belongs to no history (a fresh or a wiped data directory). */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export interface GaleraPosition {
  uuid: string;
  /** -1: unknown (grastate.dat of a crashed or running node) or no history. */
  seqno: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(text: string): boolean {
  return UUID_RE.test(text);
}

/** A position that places the node in a real history: a non-zero UUID and a known seqno. */
export function isKnownPosition(position: GaleraPosition): boolean {
  return position.uuid !== ZERO_UUID && isUuid(position.uuid) && position.seqno >= 0;
}
