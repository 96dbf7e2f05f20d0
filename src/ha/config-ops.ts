/**
 * PATCH /config and PUT /config: changing the cluster-wide configuration through a member's REST
 * API (what `patronictl pause`/`resume` and scripts use).
 *
 * As Patroni 3.0.2: PATCH merges into the stored config (null deletes a key) and answers 200 with
 * the whole new config; 503 when the DCS holds no config yet; the write is a compare-and-swap on
 * the key's mod_revision, so a change made by someone else in between is a 409, never silently
 * overwritten. PUT replaces the config and answers 200 with it.
 * Deliberate differences: the result is validated first (a wrong type, an impossible value or an
 * unknown key the request introduces is a 400 naming it — Patroni writes anything and the agents
 * then fall back to defaults); PUT is a compare-and-swap against the config it read too (Patroni's
 * is unconditional), answering 409 when it lost the race.
 */
import type { OperationResult } from '../api/routes.js';
import { DcsUnavailableError, type Dcs } from '../dcs/types.js';

/** The part of the DCS these operations use. */
export type ConfigStore = Pick<Dcs, 'loadCluster' | 'setConfig'>;
import { configEditProblems, mergeConfigPatch, sameConfig } from '../patroni/config-edit.js';

const CONFLICT = 'config changed concurrently; nothing was written, retry with the current config';

function refusal(problems: string[]): OperationResult {
  return { code: 400, text: `invalid configuration: ${problems.join('; ')}` };
}

/** A DCS that does not answer is a 503 with its reason, not a 500 (it is not a bug of ours). */
async function answering(work: () => Promise<OperationResult>): Promise<OperationResult> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DcsUnavailableError) return { code: 503, text: `DCS unavailable: ${error.message}` };
    throw error;
  }
}

export function patchClusterConfig(dcs: ConfigStore, patch: Record<string, unknown>): Promise<OperationResult> {
  return answering(() => patchConfig(dcs, patch));
}

export function putClusterConfig(dcs: ConfigStore, replacement: Record<string, unknown>): Promise<OperationResult> {
  return answering(() => putConfig(dcs, replacement));
}

async function patchConfig(dcs: ConfigStore, patch: Record<string, unknown>): Promise<OperationResult> {
  const view = await dcs.loadCluster();
  if (view.config === null) return { code: 503, text: 'no configuration in the DCS yet' };
  const before = view.config.value;
  const after = mergeConfigPatch(before, patch);
  if (sameConfig(before, after)) return { code: 200, json: after };
  const problems = configEditProblems(before, after);
  if (problems.length > 0) return refusal(problems);
  if (!(await dcs.setConfig(after, view.config.modRevision))) return { code: 409, text: CONFLICT };
  return { code: 200, json: after };
}

async function putConfig(dcs: ConfigStore, replacement: Record<string, unknown>): Promise<OperationResult> {
  const view = await dcs.loadCluster();
  const before = view.config?.value ?? {};
  if (view.config !== null && sameConfig(before, replacement)) return { code: 200, json: replacement };
  const problems = configEditProblems(before, replacement);
  if (problems.length > 0) return refusal(problems);
  if (!(await dcs.setConfig(replacement, view.config?.modRevision ?? null))) return { code: 409, text: CONFLICT };
  return { code: 200, json: replacement };
}
