/**
 * PyYAML's `yaml.safe_dump(data, default_flow_style=..., allow_unicode=True, width=200)` for
 * JSON-shaped data — what patronictl 3.0.2 calls (format_config_for_editing) to print member tags in
 * `list`, the whole listing with `--format yaml`, and the dynamic config in show-config/edit-config.
 *
 * Why not the `yaml` package: its emitter makes different choices from PyYAML on exactly the inputs
 * operators write in tags and configs (it quotes "1e3" and the keys "y"/"n", leaves ":" unquoted in
 * flow collections and tabs unquoted, puts empty collections on their own line, folds long lines at
 * different points), and patronictl's output has to match byte for byte. So this follows PyYAML's
 * emitter rules directly (scalar analysis, YAML 1.1 implicit resolvers, indentation, folding at
 * column 200). Checked against PyYAML's own output in test/unit/patroni/fixtures/yaml-compat.json.
 *
 * Invariants: mapping keys are emitted sorted by code point (PyYAML's sort_keys default); empty
 * collections are always written in flow style ([] / {}); the document ends with one line break.
 */
import { compareCodePoints, isPlainObject } from './python-compat.js';
import { analyzeScalar, BREAKS, BREAKS_AND_SPACE, represent } from './pyyaml-scalar.js';
const ESCAPES = {
    '\0': '0',
    '\x07': 'a',
    '\x08': 'b',
    '\x09': 't',
    '\x0A': 'n',
    '\x0B': 'v',
    '\x0C': 'f',
    '\x0D': 'r',
    '\x1B': 'e',
    '"': '"',
    '\\': '\\',
    '\x85': 'N',
    '\xA0': '_',
    '\u2028': 'L',
    '\u2029': 'P',
};
class Emitter {
    bestWidth;
    flowStyle;
    out = '';
    column = 0;
    whitespace = true;
    indention = true;
    indent = null;
    indents = [];
    flowLevel = 0;
    bestIndent = 2;
    constructor(bestWidth, flowStyle) {
        this.bestWidth = bestWidth;
        this.flowStyle = flowStyle;
    }
    dump(value) {
        this.node(value, {});
        this.writeIndent();
        return this.out;
    }
    increaseIndent(flow, indentless = false) {
        this.indents.push(this.indent);
        if (this.indent === null)
            this.indent = flow ? this.bestIndent : 0;
        else if (!indentless)
            this.indent += this.bestIndent;
    }
    popIndent() {
        this.indent = this.indents.pop() ?? null;
    }
    write(data) {
        this.out += data;
        this.column += Array.from(data).length;
    }
    writeIndicator(indicator, needWhitespace, whitespace = false, indention = false) {
        const data = this.whitespace || !needWhitespace ? indicator : ' ' + indicator;
        this.whitespace = whitespace;
        this.indention = this.indention && indention;
        this.write(data);
    }
    writeIndent() {
        const indent = this.indent ?? 0;
        if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace))
            this.writeLineBreak();
        if (this.column < indent) {
            this.whitespace = true;
            this.write(' '.repeat(indent - this.column));
        }
    }
    writeLineBreak(data = '\n') {
        this.whitespace = true;
        this.indention = true;
        this.out += data;
        this.column = 0;
    }
    node(value, context) {
        if (Array.isArray(value)) {
            if (this.flowLevel > 0 || this.flowStyle || value.length === 0)
                this.flowSequence(value);
            else
                this.blockSequence(value, context);
        }
        else if (isPlainObject(value)) {
            const entries = Object.entries(value).sort(([a], [b]) => compareCodePoints(a, b));
            if (this.flowLevel > 0 || this.flowStyle || entries.length === 0)
                this.flowMapping(entries);
            else
                this.blockMapping(entries);
        }
        else {
            this.increaseIndent(true);
            this.scalar(represent(value), context);
            this.popIndent();
        }
    }
    isSimpleKey(key) {
        const analysis = analyzeScalar(key);
        return analysis.chars.length < 128 && !analysis.empty && !analysis.multiline;
    }
    flowSequence(items) {
        this.writeIndicator('[', true, true);
        this.flowLevel++;
        this.increaseIndent(true);
        items.forEach((item, index) => {
            if (index > 0)
                this.writeIndicator(',', false);
            if (this.column > this.bestWidth)
                this.writeIndent();
            this.node(item, {});
        });
        this.popIndent();
        this.flowLevel--;
        this.writeIndicator(']', false);
    }
    flowMapping(entries) {
        this.writeIndicator('{', true, true);
        this.flowLevel++;
        this.increaseIndent(true);
        entries.forEach(([key, value], index) => {
            if (index > 0)
                this.writeIndicator(',', false);
            if (this.column > this.bestWidth)
                this.writeIndent();
            if (this.isSimpleKey(key)) {
                this.node(key, { mapping: true, simpleKey: true });
                this.writeIndicator(':', false);
            }
            else {
                this.writeIndicator('?', true);
                this.node(key, { mapping: true });
                if (this.column > this.bestWidth)
                    this.writeIndent();
                this.writeIndicator(':', true);
            }
            this.node(value, { mapping: true });
        });
        this.popIndent();
        this.flowLevel--;
        this.writeIndicator('}', false);
    }
    blockSequence(items, context) {
        this.increaseIndent(false, context.mapping === true && !this.indention);
        for (const item of items) {
            this.writeIndent();
            this.writeIndicator('-', true, false, true);
            this.node(item, {});
        }
        this.popIndent();
    }
    blockMapping(entries) {
        this.increaseIndent(false);
        for (const [key, value] of entries) {
            this.writeIndent();
            if (this.isSimpleKey(key)) {
                this.node(key, { mapping: true, simpleKey: true });
                this.writeIndicator(':', false);
            }
            else {
                this.writeIndicator('?', true, false, true);
                this.node(key, { mapping: true });
                this.writeIndent();
                this.writeIndicator(':', true, false, true);
            }
            this.node(value, { mapping: true });
        }
        this.popIndent();
    }
    scalar(represented, context) {
        const analysis = analyzeScalar(represented.text);
        const simpleKey = context.simpleKey === true;
        const split = !simpleKey;
        const plainAllowed = this.flowLevel > 0 ? analysis.allowFlowPlain : analysis.allowBlockPlain;
        if (represented.implicit && !(simpleKey && (analysis.empty || analysis.multiline)) && plainAllowed) {
            this.writePlain(analysis.chars, split);
        }
        else if (analysis.allowSingleQuoted && !(simpleKey && analysis.multiline)) {
            this.writeSingleQuoted(analysis.chars, split);
        }
        else {
            this.writeDoubleQuoted(analysis.chars, split);
        }
    }
    writeBreaks(chars, start, end) {
        if (chars[start] === '\n')
            this.writeLineBreak();
        for (const br of chars.slice(start, end))
            this.writeLineBreak(br);
        this.writeIndent();
    }
    writePlain(chars, split) {
        if (chars.length === 0)
            return;
        if (!this.whitespace)
            this.write(' ');
        this.whitespace = false;
        this.indention = false;
        let spaces = false;
        let breaks = false;
        let start = 0;
        for (let end = 0; end <= chars.length; end++) {
            const ch = chars[end];
            if (spaces) {
                if (ch !== ' ') {
                    if (start + 1 === end && this.column > this.bestWidth && split) {
                        this.writeIndent();
                        this.whitespace = false;
                        this.indention = false;
                    }
                    else {
                        this.write(chars.slice(start, end).join(''));
                    }
                    start = end;
                }
            }
            else if (breaks) {
                if (ch === undefined || !BREAKS.includes(ch)) {
                    this.writeBreaks(chars, start, end);
                    this.whitespace = false;
                    this.indention = false;
                    start = end;
                }
            }
            else if (ch === undefined || BREAKS_AND_SPACE.includes(ch)) {
                this.write(chars.slice(start, end).join(''));
                start = end;
            }
            if (ch !== undefined) {
                spaces = ch === ' ';
                breaks = BREAKS.includes(ch);
            }
        }
    }
    writeSingleQuoted(chars, split) {
        this.writeIndicator("'", true);
        let spaces = false;
        let breaks = false;
        let start = 0;
        for (let end = 0; end <= chars.length; end++) {
            const ch = chars[end];
            if (spaces) {
                if (ch === undefined || ch !== ' ') {
                    if (start + 1 === end && this.column > this.bestWidth && split && start !== 0 && end !== chars.length) {
                        this.writeIndent();
                    }
                    else {
                        this.write(chars.slice(start, end).join(''));
                    }
                    start = end;
                }
            }
            else if (breaks) {
                if (ch === undefined || !BREAKS.includes(ch)) {
                    this.writeBreaks(chars, start, end);
                    start = end;
                }
            }
            else if (ch === undefined || BREAKS_AND_SPACE.includes(ch) || ch === "'") {
                if (start < end) {
                    this.write(chars.slice(start, end).join(''));
                    start = end;
                }
            }
            if (ch === "'") {
                this.write("''");
                start = end + 1;
            }
            if (ch !== undefined) {
                spaces = ch === ' ';
                breaks = BREAKS.includes(ch);
            }
        }
        this.writeIndicator("'", false);
    }
    writeDoubleQuoted(chars, split) {
        this.writeIndicator('"', true);
        let start = 0;
        for (let end = 0; end <= chars.length; end++) {
            const ch = chars[end];
            const code = ch?.codePointAt(0) ?? 0;
            const unescaped = ch !== undefined &&
                !'"\\\x85\u2028\u2029\uFEFF'.includes(ch) &&
                ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd));
            if (!unescaped) {
                if (start < end) {
                    this.write(chars.slice(start, end).join(''));
                    start = end;
                }
                if (ch !== undefined) {
                    const escape = ESCAPES[ch];
                    if (escape !== undefined)
                        this.write('\\' + escape);
                    else if (code <= 0xff)
                        this.write('\\x' + code.toString(16).toUpperCase().padStart(2, '0'));
                    else if (code <= 0xffff)
                        this.write('\\u' + code.toString(16).toUpperCase().padStart(4, '0'));
                    else
                        this.write('\\U' + code.toString(16).toUpperCase().padStart(8, '0'));
                    start = end + 1;
                }
            }
            if (end > 0 && end < chars.length - 1 && (ch === ' ' || start >= end) && this.column + (end - start) > this.bestWidth && split) {
                this.write(chars.slice(start, end).join('') + '\\');
                if (start < end)
                    start = end;
                this.writeIndent();
                this.whitespace = false;
                this.indention = false;
                if (chars[start] === ' ')
                    this.write('\\');
            }
        }
        this.writeIndicator('"', false);
    }
}
/**
 * yaml.safe_dump(value, default_flow_style=flowStyle, allow_unicode=True, width=200) for
 * JSON-shaped values with a mapping or sequence at the root.
 */
export function pyYamlDump(value, options = {}) {
    const width = options.width ?? 200;
    return new Emitter(width > 4 ? width : 80, options.flowStyle === true).dump(value);
}
//# sourceMappingURL=pyyaml.js.map