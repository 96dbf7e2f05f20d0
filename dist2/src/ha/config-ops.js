import { DcsUnavailableError } from '../dcs/types.js';
import { configEditProblems, mergeConfigPatch, sameConfig } from '../patroni/config-edit.js';
const CONFLICT = 'config changed concurrently; nothing was written, retry with the current config';
function refusal(problems) {
    return { code: 400, text: `invalid configuration: ${problems.join('; ')}` };
}
/** A DCS that does not answer is a 503 with its reason, not a 500 (it is not a bug of ours). */
async function answering(work) {
    try {
        return await work();
    }
    catch (error) {
        if (error instanceof DcsUnavailableError)
            return { code: 503, text: `DCS unavailable: ${error.message}` };
        throw error;
    }
}
export function patchClusterConfig(dcs, patch) {
    return answering(() => patchConfig(dcs, patch));
}
export function putClusterConfig(dcs, replacement) {
    return answering(() => putConfig(dcs, replacement));
}
async function patchConfig(dcs, patch) {
    const view = await dcs.loadCluster();
    if (view.config === null)
        return { code: 503, text: 'no configuration in the DCS yet' };
    const before = view.config.value;
    const after = mergeConfigPatch(before, patch);
    if (sameConfig(before, after))
        return { code: 200, json: after };
    const problems = configEditProblems(before, after);
    if (problems.length > 0)
        return refusal(problems);
    if (!(await dcs.setConfig(after, view.config.modRevision)))
        return { code: 409, text: CONFLICT };
    return { code: 200, json: after };
}
async function putConfig(dcs, replacement) {
    const view = await dcs.loadCluster();
    const before = view.config?.value ?? {};
    if (view.config !== null && sameConfig(before, replacement))
        return { code: 200, json: replacement };
    const problems = configEditProblems(before, replacement);
    if (problems.length > 0)
        return refusal(problems);
    if (!(await dcs.setConfig(replacement, view.config?.modRevision ?? null)))
        return { code: 409, text: CONFLICT };
    return { code: 200, json: replacement };
}
//# sourceMappingURL=config-ops.js.map