/**
 * synchronous_standby_names as synchronous mode writes and reads it, and what a value means for
 * acknowledged commits. Pure: no node:* import.
 *
 * Written forms (Patroni's): one standby `a`; several in synchronous_mode on `N (a,b)` with N the
 * number listed, so every listed standby confirms every commit; quorum `ANY k (a,b,c)`. Names are
 * sorted and double-quoted when PostgreSQL would not read them as plain identifiers.
 *
 * Read forms (PostgreSQL's grammar): '' (no synchronous replication), `[FIRST] N (list)`,
 * `ANY N (list)`, a plain list (the first connected one), `*` (any standby). The fence's name and
 * the strict-mode placeholder are standbys that cannot exist: nothing is acknowledged.
 */

/** synchronous_standby_names while fenced: a standby no member can be, so no commit is acknowledged. */
export const FENCE_STANDBY_NAME = '"keel fenced: no such standby"';

/** synchronous_mode_strict with no eligible standby: commits wait until one is named. */
export const STRICT_PLACEHOLDER_NAME = '"keel strict: no synchronous standby yet"';

/**
 * Which commits PostgreSQL acknowledges under a setting: every one at once (`alone`), none
 * (`never`), or those confirmed by `count` of the listed standbys. Priority lists (FIRST) are
 * read as "some `count` of them": the analysis in rules/sync.ts holds for any such subset.
 */
export type AckRule = { kind: 'alone' } | { kind: 'never' } | { kind: 'standbys'; count: number; names: string[] };

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;

/** A name as synchronous_standby_names needs it: plain lower-case identifiers as they are, others double-quoted. */
export function quoteStandbyName(name: string): string {
  return PLAIN_IDENTIFIER.test(name) && name !== 'any' && name !== 'first' ? name : `"${name.replace(/"/g, '""')}"`;
}

/** The setting for `names` (sorted): `a`, `N (a,b)` or `ANY k (a,b,c)`. */
export function renderStandbyNames(names: string[], quorumCount: number | null): string {
  const sorted = [...names].sort();
  const list = sorted.map(quoteStandbyName).join(',');
  if (quorumCount !== null) return `ANY ${quorumCount} (${list})`;
  return sorted.length === 1 ? list : `${sorted.length} (${list})`;
}

/** Splits a comma-separated list of possibly double-quoted names. */
function splitNames(text: string): string[] {
  const names: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      names.push(current.trim());
      current = '';
    } else current += ch.toLowerCase();
  }
  names.push(current.trim());
  return names.filter((n) => n !== '');
}

/** What a synchronous_standby_names value (as written or as SHOW prints it) acknowledges. */
export function ackRuleOf(value: string): AckRule {
  const text = value.trim();
  if (text === '') return { kind: 'alone' };
  if (isUnreachableStandby(text)) return { kind: 'never' };
  const counted = /^(?:(first|any)\s+)?(\d+)\s*\((.*)\)$/is.exec(text);
  const names = splitNames(counted === null ? text : (counted[3] ?? ''));
  const count = counted === null ? 1 : Number(counted[2]);
  if (names.length === 0 || count <= 0) return { kind: 'alone' };
  if (names.some((n) => n === '*')) return { kind: 'standbys', count, names: ['*'] };
  return { kind: 'standbys', count: Math.min(count, names.length), names };
}

/** The fence or the strict placeholder, quoted (as written) or not (as SHOW prints it). */
export function isUnreachableStandby(value: string): boolean {
  const text = value.trim();
  return [FENCE_STANDBY_NAME, STRICT_PLACEHOLDER_NAME].some((name) => text === name || text === name.slice(1, -1));
}

/** Whether two settings are the same value (SHOW prints what the file says, spacing aside). */
export function sameStandbyNames(a: string, b: string): boolean {
  const norm = (v: string): string => v.trim().replace(/\s+/g, ' ');
  return norm(a) === norm(b);
}
