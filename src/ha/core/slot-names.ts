/**
 * Replication slot names, as Patroni names them (so a cluster can move between Patroni and keel
 * without orphaned slots). Pure.
 */
import type { SlotMatcher } from '../../config/types.js';
import type { PhysicalSlot } from './types.js';

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

/**
 * The physical slots the leader drops, as Patroni: idle ones that are neither wanted (a member's,
 * a permanent one) nor matched by ignore_slots. A slot in use is never dropped. One rule for the
 * decision to act (rules/leader-duties.ts) and for the act itself (src/postgres/slots.ts).
 */
export function slotsToDrop(present: readonly PhysicalSlot[], wanted: readonly string[], ignore: readonly SlotMatcher[]): string[] {
  return present.filter((s) => !s.active && !wanted.includes(s.name) && !ignoresPhysicalSlot(ignore, s.name)).map((s) => s.name);
}
