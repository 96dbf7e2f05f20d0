/**
 * Physical replication slots on the leader, one per member (use_slots); the names come from
 * src/ha/core/slot-names.ts.
 */
import type { SlotMatcher } from '../config/types.js';
import { slotsToDrop } from '../ha/core/slot-names.js';
import type { PostgresConnection } from './probe.js';

/**
 * Makes the leader's physical slots match the members it should feed and the permanent slots:
 * creates the missing ones (reserving WAL at once) and drops the other physical slots, as
 * Patroni does: those of members that left, strangers. Slots in use, and those ignore_slots
 * matches, are never dropped; logical slots are not touched.
 */
export async function syncPhysicalSlots(
  conn: PostgresConnection,
  wanted: string[],
  ignore: readonly SlotMatcher[],
): Promise<{ created: string[]; dropped: string[] }> {
  const rows = await conn.query<{ slot_name: string; active: boolean }>(
    "SELECT slot_name, active FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical'",
  );
  const present = rows.map((r) => ({ name: r.slot_name, active: r.active }));
  const created: string[] = [];
  for (const name of wanted) {
    if (present.some((s) => s.name === name)) continue;
    await conn.query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [name]);
    created.push(name);
  }
  const dropped = slotsToDrop(present, wanted, ignore);
  for (const name of dropped) await conn.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [name]);
  return { created, dropped };
}
