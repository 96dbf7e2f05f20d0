/**
 * Physical replication slots on the leader, one per member (use_slots), named as Patroni names
 * them so a cluster can move between Patroni and keel without orphaned slots.
 */
import type { PostgresConnection } from './probe.js';

/** Patroni's slot_name_from_member_name: lower-case, [a-z0-9_] only, at most 63 bytes. */
export function slotNameFromMemberName(memberName: string): string {
  return memberName
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, (ch) => (ch === '-' || ch === '.' ? '_' : `u${String(ch.codePointAt(0) ?? 0).padStart(4, "0")}`))
    .slice(0, 63);
}

/**
 * Makes the leader's physical slots match the members it should feed: creates the missing ones
 * (reserving WAL at once) and drops keel-named slots of members that left. Slots in use are
 * never dropped.
 */
export async function syncPhysicalSlots(conn: PostgresConnection, wanted: string[]): Promise<{ created: string[]; dropped: string[] }> {
  const rows = await conn.query<{ slot_name: string; active: boolean }>(
    "SELECT slot_name, active FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical'",
  );
  const existing = new Map(rows.map((r) => [r.slot_name, r.active]));
  const created: string[] = [];
  const dropped: string[] = [];
  for (const name of wanted) {
    if (existing.has(name)) continue;
    await conn.query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [name]);
    created.push(name);
  }
  for (const [name, active] of existing) {
    if (wanted.includes(name) || active) continue;
    await conn.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [name]);
    dropped.push(name);
  }
  return { created, dropped };
}
