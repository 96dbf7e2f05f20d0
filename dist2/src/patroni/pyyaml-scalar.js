/**
 * The scalar half of keel's PyYAML emulation (see pyyaml.ts): how PyYAML represents a JSON value
 * as text, whether that text would read back as a string when written plain (YAML 1.1 implicit
 * resolvers, exactly PyYAML's), and PyYAML's analyze_scalar, which decides which styles (plain,
 * single-quoted, double-quoted) a scalar may take.
 */
import { pyFloatRepr } from './python-compat.js';
export const BREAKS = '\n\x85\u2028\u2029';
export const BREAKS_AND_SPACE = ' ' + BREAKS;
const WHITESPACE_AFTER = '\0 \t\r\n\x85\u2028\u2029';
/** YAML 1.1 implicit resolvers as PyYAML has them: a plain scalar matching one is not a string. */
const IMPLICIT_RESOLVERS = [
    /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
    /^(?:<<)$/,
    /^(?:~|null|Null|NULL|)$/,
    /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
    /^(?:=)$/,
];
function resolvesAsString(text) {
    // Python's `$` also matches before a final newline.
    const candidate = text.endsWith('\n') ? text.slice(0, -1) : text;
    return !IMPLICIT_RESOLVERS.some((pattern) => pattern.test(candidate));
}
function isPrintableUnicode(code) {
    return (code === 0x85 || (code >= 0xa0 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code < 0x10ffff)) && code !== 0xfeff;
}
export function analyzeScalar(text) {
    const chars = Array.from(text);
    if (chars.length === 0) {
        return { chars, empty: true, multiline: false, allowFlowPlain: false, allowBlockPlain: true, allowSingleQuoted: true };
    }
    let blockIndicators = false;
    let flowIndicators = false;
    let lineBreaks = false;
    let specialCharacters = false;
    let leadingSpace = false;
    let leadingBreak = false;
    let trailingSpace = false;
    let trailingBreak = false;
    let breakSpace = false;
    let spaceBreak = false;
    if (text.startsWith('---') || text.startsWith('...')) {
        blockIndicators = true;
        flowIndicators = true;
    }
    let precededByWhitespace = true;
    let followedByWhitespace = chars.length === 1 || WHITESPACE_AFTER.includes(chars[1] ?? '');
    let previousSpace = false;
    let previousBreak = false;
    for (let index = 0; index < chars.length; index++) {
        const ch = chars[index] ?? '';
        if (index === 0) {
            if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
                flowIndicators = true;
                blockIndicators = true;
            }
            if ('?:'.includes(ch)) {
                flowIndicators = true;
                if (followedByWhitespace)
                    blockIndicators = true;
            }
            if (ch === '-' && followedByWhitespace) {
                flowIndicators = true;
                blockIndicators = true;
            }
        }
        else {
            if (',?[]{}'.includes(ch))
                flowIndicators = true;
            if (ch === ':') {
                flowIndicators = true;
                if (followedByWhitespace)
                    blockIndicators = true;
            }
            if (ch === '#' && precededByWhitespace) {
                flowIndicators = true;
                blockIndicators = true;
            }
        }
        const code = ch.codePointAt(0) ?? 0;
        if (BREAKS.includes(ch))
            lineBreaks = true;
        if (!(ch === '\n' || (code >= 0x20 && code <= 0x7e)) && !isPrintableUnicode(code))
            specialCharacters = true;
        if (ch === ' ') {
            if (index === 0)
                leadingSpace = true;
            if (index === chars.length - 1)
                trailingSpace = true;
            if (previousBreak)
                breakSpace = true;
            previousSpace = true;
            previousBreak = false;
        }
        else if (BREAKS.includes(ch)) {
            if (index === 0)
                leadingBreak = true;
            if (index === chars.length - 1)
                trailingBreak = true;
            if (previousSpace)
                spaceBreak = true;
            previousSpace = false;
            previousBreak = true;
        }
        else {
            previousSpace = false;
            previousBreak = false;
        }
        precededByWhitespace = WHITESPACE_AFTER.includes(ch);
        followedByWhitespace = index + 2 >= chars.length || WHITESPACE_AFTER.includes(chars[index + 2] ?? '');
    }
    let allowFlowPlain = true;
    let allowBlockPlain = true;
    let allowSingleQuoted = true;
    if (leadingSpace || leadingBreak || trailingSpace || trailingBreak)
        allowFlowPlain = allowBlockPlain = false;
    if (breakSpace)
        allowFlowPlain = allowBlockPlain = allowSingleQuoted = false;
    if (spaceBreak || specialCharacters)
        allowFlowPlain = allowBlockPlain = allowSingleQuoted = false;
    if (lineBreaks)
        allowFlowPlain = allowBlockPlain = false;
    if (flowIndicators)
        allowFlowPlain = false;
    if (blockIndicators)
        allowBlockPlain = false;
    return { chars, empty: false, multiline: lineBreaks, allowFlowPlain, allowBlockPlain, allowSingleQuoted };
}
export function represent(value) {
    if (value === null || value === undefined)
        return { text: 'null', implicit: true };
    if (value === true)
        return { text: 'true', implicit: true };
    if (value === false)
        return { text: 'false', implicit: true };
    if (typeof value === 'number') {
        if (Number.isInteger(value))
            return { text: BigInt(value).toString(), implicit: true };
        if (Number.isNaN(value))
            return { text: '.nan', implicit: true };
        if (!Number.isFinite(value))
            return { text: value > 0 ? '.inf' : '-.inf', implicit: true };
        const repr = pyFloatRepr(value);
        // PyYAML inserts ".0" so "1e+16" still reads back as a float.
        return { text: !repr.includes('.') && repr.includes('e') ? repr.replace('e', '.0e') : repr, implicit: true };
    }
    const text = typeof value === 'string' ? value : String(value);
    return { text, implicit: resolvesAsString(text) };
}
//# sourceMappingURL=pyyaml-scalar.js.map