/**
 * Replication slot names, as Patroni names them (so a cluster can move between Patroni and keel
 * without orphaned slots). Pure.
 */
/** Patroni's slot_name_from_member_name: lower-case, [a-z0-9_] only, at most 63 bytes. */
export function slotNameFromMemberName(memberName) {
    return memberName
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, (ch) => (ch === '-' || ch === '.' ? '_' : `u${String(ch.codePointAt(0) ?? 0).padStart(4, '0')}`))
        .slice(0, 63);
}
//# sourceMappingURL=slot-names.js.map