/**
 * Reading and writing grastate.dat, Galera's saved state in the data directory, and reading the
 * position `mariadbd --wsrep-recover` logs. Both parsers are total: a file or an output that is
 * not what Galera writes gives a typed failure that names what was wrong, never a guess.
 *
 * grastate.dat as Galera 4 writes it:
 *   # GALERA saved state
 *   version: 2.1
 *   uuid:    066d30c3-ee0c-11f1-9bd3-36e714e8bf10
 *   seqno:   -1
 *   safe_to_bootstrap: 0
 * seqno is -1 while the server runs and after a crash; a clean shutdown writes the real seqno.
 */
import { type GaleraPosition, isUuid } from './core/position.js';

export interface GraState extends GaleraPosition {
  version: string;
  safeToBootstrap: boolean;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseGrastate(text: string): ParseResult<GraState> {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, error: `unexpected line ${JSON.stringify(line)}` };
    fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const uuid = fields.get('uuid');
  const seqnoText = fields.get('seqno');
  if (uuid === undefined || !isUuid(uuid)) return { ok: false, error: `no valid uuid (got ${JSON.stringify(uuid ?? null)})` };
  if (seqnoText === undefined || !/^-?\d+$/.test(seqnoText)) return { ok: false, error: `no valid seqno (got ${JSON.stringify(seqnoText ?? null)})` };
  const seqno = Number(seqnoText);
  if (seqno < -1 || !Number.isSafeInteger(seqno)) return { ok: false, error: `seqno out of range: ${seqnoText}` };
  // Galera before 3.19 wrote no safe_to_bootstrap: such a file never vouches for itself
  const safe = fields.get('safe_to_bootstrap');
  if (safe !== undefined && safe !== '0' && safe !== '1') return { ok: false, error: `safe_to_bootstrap must be 0 or 1, got ${JSON.stringify(safe)}` };
  return { ok: true, value: { version: fields.get('version') ?? '2.1', uuid, seqno, safeToBootstrap: safe === '1' } };
}

/** The file Galera would write for `state` (keel rewrites it only to set safe_to_bootstrap). */
export function renderGrastate(state: GraState): string {
  return [
    '# GALERA saved state',
    `version: ${state.version}`,
    `uuid:    ${state.uuid}`,
    `seqno:   ${state.seqno}`,
    `safe_to_bootstrap: ${state.safeToBootstrap ? 1 : 0}`,
    '',
  ].join('\n');
}

const RECOVERED_RE = /WSREP: Recovered position:?\s+([0-9a-f-]{36}):(-?\d+)/g;

/**
 * The position in the output (error log) of `mariadbd --wsrep-recover`. When the line appears
 * more than once (a log file appended to by several runs), the last one is this run's.
 */
export function parseRecoveredPosition(output: string): ParseResult<GaleraPosition> {
  let last: RegExpExecArray | null = null;
  for (const match of output.matchAll(RECOVERED_RE)) last = match;
  if (last === null) return { ok: false, error: 'no "WSREP: Recovered position" line in the output of mariadbd --wsrep-recover' };
  const uuid = last[1] ?? '';
  const seqno = Number(last[2]);
  if (!isUuid(uuid)) return { ok: false, error: `the recovered position has an invalid uuid ${JSON.stringify(uuid)}` };
  if (!Number.isSafeInteger(seqno) || seqno < -1) return { ok: false, error: `the recovered position has an invalid seqno ${last[2] ?? ''}` };
  return { ok: true, value: { uuid, seqno } };
}
