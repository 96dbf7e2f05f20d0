/**
 * Reading Patroni-format YAML the way Patroni (PyYAML, YAML 1.1) reads it, and merging
 * configuration sources the way its patch_config does.
 *
 * YAML 1.1 matters: `hot_standby: on` and `mode: off` are booleans there (and in every
 * patroni.yml written for Patroni), plain strings in YAML 1.2. Two YAML 1.1 features of the
 * `yaml` package that PyYAML lacks or that only mangle values are switched off: `y`/`n` as
 * booleans (PyYAML keeps them strings) and timestamps / base-60 numbers (a password such as
 * 12:30 stays a string). Duplicate keys are accepted as PyYAML accepts them (the last one
 * wins) but each one adds a warning.
 *
 * Invariant: nothing here throws anything but ConfigError.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { isRecord } from './values.js';
const PYYAML_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PYYAML_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const DROPPED_TAGS = new Set(['tag:yaml.org,2002:timestamp']);
function pyyamlTags(tags) {
    const out = [];
    for (const tag of tags) {
        if (typeof tag === 'string') {
            out.push(tag);
            continue;
        }
        if (DROPPED_TAGS.has(tag.tag))
            continue;
        // base-60 integers and floats ("1:30" -> 90) carry the int/float tag with a ':' in their test
        if ('test' in tag && tag.test instanceof RegExp && tag.test.source.includes(':[0-5]?[0-9]'))
            continue;
        if (tag.tag === 'tag:yaml.org,2002:bool' && 'test' in tag && tag.test instanceof RegExp) {
            const isTrue = tag.test.test('true');
            out.push({ ...tag, test: isTrue ? PYYAML_TRUE : PYYAML_FALSE });
            continue;
        }
        out.push(tag);
    }
    return out;
}
/** Parses one YAML text. `origin` names it in messages (a file path or an environment variable). */
export function readYaml(text, origin) {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { version: '1.1', uniqueKeys: false, customTags: pyyamlTags, lineCounter, prettyErrors: true });
    const error = doc.errors[0];
    if (error !== undefined) {
        const where = error.linePos === undefined ? '' : ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}`;
        const what = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.message;
        throw new ConfigError('', `${origin}: invalid YAML${where}: ${what}`, 'fix the YAML syntax (indentation is significant) and try again');
    }
    const warnings = [];
    findDuplicateKeys(doc.contents, [], lineCounter, origin, warnings);
    let data;
    try {
        data = doc.toJS({ maxAliasCount: 1000 });
    }
    catch (cause) {
        throw new ConfigError('', `${origin}: invalid YAML: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    return { data: data === undefined ? null : data, warnings };
}
function findDuplicateKeys(node, path, lines, origin, warnings) {
    if (isSeq(node)) {
        node.items.forEach((item, index) => findDuplicateKeys(item, [...path, String(index)], lines, origin, warnings));
        return;
    }
    if (!isMap(node))
        return;
    const seen = new Set();
    for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : null;
        if (key === null || key === '<<')
            continue;
        if (seen.has(key)) {
            const start = pair.key.range?.[0];
            const line = start === undefined ? '' : ` (line ${lines.linePos(start).line})`;
            warnings.push(`${[...path, key].join('.')}: duplicate key in ${origin}${line}; the last value is used`);
        }
        seen.add(key);
        findDuplicateKeys(pair.value, [...path, key], lines, origin, warnings);
    }
}
/**
 * Patroni's patch_config: mappings merge recursively, a null value deletes the key, anything
 * else replaces. Mutates and returns `target`.
 */
export function patchConfig(target, patch) {
    for (const [key, value] of Object.entries(patch)) {
        if (value === null || value === undefined) {
            delete target[key];
        }
        else if (isRecord(value) && isRecord(target[key])) {
            patchConfig(target[key], value);
        }
        else {
            target[key] = value;
        }
    }
    return target;
}
/** Reads a config file, or every *.yml / *.yaml file of a directory in name order, merged (as Patroni does). */
export function readConfigPath(path) {
    let isDirectory;
    try {
        isDirectory = statSync(path).isDirectory();
    }
    catch (cause) {
        throw new ConfigError('', `cannot read ${path}: ${errnoText(cause)}`, 'pass the path of your patroni.yml (or a directory of *.yml files)');
    }
    const files = isDirectory
        ? readdirSafe(path)
            .filter((f) => /\.ya?ml$/.test(f))
            .sort()
            .map((f) => join(path, f))
            .filter((f) => statSafeIsFile(f))
        : [path];
    const merged = {};
    const warnings = [];
    for (const file of files) {
        let text;
        try {
            text = readFileSync(file, 'utf8');
        }
        catch (cause) {
            throw new ConfigError('', `cannot read ${file}: ${errnoText(cause)}`);
        }
        const read = readYaml(text, file);
        warnings.push(...read.warnings);
        if (read.data === null)
            continue;
        if (!isRecord(read.data))
            throw new ConfigError('', `${file}: expected a mapping of settings at the top level, got a ${Array.isArray(read.data) ? 'list' : 'single value'}`);
        patchConfig(merged, read.data);
    }
    return { data: files.length === 0 || Object.keys(merged).length === 0 ? null : merged, warnings, files };
}
function readdirSafe(path) {
    try {
        return readdirSync(path);
    }
    catch (cause) {
        throw new ConfigError('', `cannot read ${path}: ${errnoText(cause)}`);
    }
}
function statSafeIsFile(path) {
    try {
        return statSync(path).isFile();
    }
    catch {
        return false;
    }
}
function errnoText(cause) {
    if (cause instanceof Error && 'code' in cause && typeof cause.code === 'string') {
        if (cause.code === 'ENOENT')
            return 'no such file or directory';
        if (cause.code === 'EACCES')
            return 'permission denied';
        return cause.code;
    }
    return cause instanceof Error ? cause.message : String(cause);
}
//# sourceMappingURL=yaml-source.js.map