/**
 * Editing the cluster-wide configuration (the DCS `config` key) the way Patroni does, pure:
 *  - `mergeConfigPatch`: PATCH /config and `edit-config --apply` (Patroni's patch_config: mappings
 *    merge recursively, a null deletes the key, anything else replaces);
 *  - `applySetPairs`: `edit-config -s key.path=YAML` / `-p name=value` (patronictl's
 *    apply_config_changes: dotted paths, except that everything after `postgresql.parameters.` is
 *    one parameter name, dots included; values are YAML 1.1 as PyYAML reads them; a null value
 *    removes the key, and a mapping left empty is removed too);
 *  - `configEditProblems`: what keel refuses to write (Patroni writes anything): a value of the
 *    wrong type or range, and a key that is not a dynamic setting — the latter only when the edit
 *    introduces it, so a stray key someone else wrote does not block every later edit.
 * Nothing here mutates its arguments.
 */
import { parse as parseYaml } from 'yaml';
import { validateDynamicConfig } from '../config/dynamic.js';
import { unknownDynamicKeyWarnings } from '../config/known-keys.js';
import { patchConfig } from '../config/yaml-source.js';
import { isPlainObject } from './python-compat.js';
/** A bad -s/-p argument or YAML text (the message names it). */
export class ConfigEditInputError extends Error {
}
/** The result of applying `patch` to `base` (deep copies; `base` is left as it is). */
export function mergeConfigPatch(base, patch) {
    return patchConfig(structuredClone(base), structuredClone(patch));
}
/** Reads YAML as PyYAML's safe_load does (YAML 1.1: `on` is true, `8MB` a string). */
export function parseYamlValue(text, origin) {
    try {
        return parseYaml(text, { version: '1.1', prettyErrors: false });
    }
    catch (error) {
        const reason = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
        throw new ConfigEditInputError(`${origin}: invalid YAML: ${reason}`);
    }
}
/** A YAML document that must be a mapping (edit-config --apply/--replace, the edited file); empty = {}. */
export function parseYamlMapping(text, origin) {
    const value = parseYamlValue(text, origin);
    if (value === null || value === undefined)
        return {};
    if (!isPlainObject(value))
        throw new ConfigEditInputError(`${origin}: expected a mapping of settings, got ${Array.isArray(value) ? 'a list' : typeof value}`);
    return value;
}
function setPath(config, path, value, prefix) {
    // PostgreSQL parameter names may contain dots (e.g. pg_stat_statements.max): one key.
    if (prefix.length === 2 && prefix[0] === 'postgresql' && prefix[1] === 'parameters')
        path = [path.join('.')];
    const [key, ...rest] = path;
    if (rest.length === 0) {
        if (value === null)
            delete config[key];
        else
            config[key] = value;
        return;
    }
    if (!isPlainObject(config[key]))
        config[key] = {};
    const child = config[key];
    setPath(child, rest, value, [...prefix, key]);
    if (Object.keys(child).length === 0)
        delete config[key];
}
/** `-p name=value` is `-s postgresql.parameters.name=value`. */
export function pgParameterPair(pair) {
    return `postgresql.parameters.${pair.trimStart()}`;
}
/** Applies `key.path=YAML` pairs in order to a copy of `data`. */
export function applySetPairs(data, pairs) {
    const changed = structuredClone(data);
    for (const pair of pairs) {
        const equals = pair.indexOf('=');
        const keyPath = equals === -1 ? '' : pair.slice(0, equals).trim();
        if (equals === -1 || keyPath === '' || keyPath.split('.').some((part) => part === ''))
            throw new ConfigEditInputError(`invalid setting "${pair}": expected key.path=value`);
        setPath(changed, keyPath.split('.'), parseYamlValue(pair.slice(equals + 1), `value of ${keyPath}`), []);
    }
    return changed;
}
/** One line per reason `after` may not be written (empty: it may). `before` is the stored config. */
export function configEditProblems(before, after) {
    const errors = validateDynamicConfig(after)
        .filter((problem) => problem.severity === 'error')
        .map((problem) => `${problem.path === '' ? 'config' : problem.path}: ${problem.message.replace(/; (using|ignored).*$/, '')}`);
    const existing = new Set(unknownDynamicKeyWarnings(before, ''));
    const unknown = unknownDynamicKeyWarnings(after, '')
        .filter((warning) => !existing.has(warning))
        .map((warning) => warning.replace(/: unknown key, ignored \(check the spelling\)$/, ': unknown setting (not a dynamic configuration key)'));
    return [...errors, ...unknown];
}
/** Structural equality of two JSON values (key order ignored), as Python's == on dicts. */
export function sameConfig(left, right) {
    if (Array.isArray(left) || Array.isArray(right)) {
        return Array.isArray(left) && Array.isArray(right) && left.length === right.length && left.every((item, index) => sameConfig(item, right[index]));
    }
    if (isPlainObject(left) || isPlainObject(right)) {
        if (!isPlainObject(left) || !isPlainObject(right))
            return false;
        const keys = Object.keys(left);
        return keys.length === Object.keys(right).length && keys.every((key) => key in right && sameConfig(left[key], right[key]));
    }
    return left === right;
}
//# sourceMappingURL=config-edit.js.map