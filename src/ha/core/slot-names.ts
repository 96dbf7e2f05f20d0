/**
 * Replication slot names, as Patroni names them (so a cluster can move between Patroni and keel
 * without orphaned slots). Pure.
 */
import type { SlotMatcher } from '../../config/types.js';

/** Patroni's slot_name_from_member_name: lower-case, [a-z0-9_] only, at most 63 bytes. */
export function slotNameFromMemberName(memberName: string): string {
  return memberName
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, (ch) => (ch === '-' || ch === '.' ? '_' : `u${String(ch.codePointAt(0) ?? 0).padStart(4, '0')}`))
    .slice(0, 63);
}

/** Whether `ignore_slots` keeps the physical slot `name` (a physical slot has no database or plugin). */
export function ignoresPhysicalSlot(matchers: readonly SlotMatcher[], name: string): boolean {
  return matchers.some(
    (m) => (m.name === undefined || m.name === name) && (m.type === undefined || m.type === 'physical') && m.database === undefined && m.plugin === undefined,
  );
}
