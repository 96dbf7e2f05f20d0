/**
 * Makes the leader's physical slots match the members it should feed: creates the missing ones
 * (reserving WAL at once) and drops keel-named slots of members that left. Slots in use are
 * never dropped.
 */
export async function syncPhysicalSlots(conn, wanted) {
    const rows = await conn.query("SELECT slot_name, active FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical'");
    const existing = new Map(rows.map((r) => [r.slot_name, r.active]));
    const created = [];
    const dropped = [];
    for (const name of wanted) {
        if (existing.has(name))
            continue;
        await conn.query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [name]);
        created.push(name);
    }
    for (const [name, active] of existing) {
        if (wanted.includes(name) || active)
            continue;
        await conn.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [name]);
        dropped.push(name);
    }
    return { created, dropped };
}
//# sourceMappingURL=slots.js.map