/**
 * patronictl 3.0.2's table: a PrettyTable 3.6 grid (one space of padding, "+", "-" and "|") whose
 * top border carries a title, as patronictl's PatronictlPrettyTable draws it.
 *
 * Rules reproduced:
 *  - a column is as wide as its widest line, header included, in display columns as wcwidth
 *    counts them (East Asian wide characters and most emoji 2, combining marks 0; the tables here
 *    are a close approximation of wcwidth 0.2.5's, exact for Latin, Cyrillic, CJK, Hangul);
 *  - cells (and headers) are left-aligned unless `align` says 'r';
 *  - a cell holding line breaks spans several lines; when any cell does, a rule separates every
 *    row (PrettyTable's hrules=ALL), otherwise only the frame is drawn (hrules=FRAME);
 *  - the title replaces the top border from its second character on, cut to the border's length
 *    minus two, so "+--------+---" becomes "+ Cluster: demo ---";
 *  - no trailing newline: the caller adds the one click.echo prints.
 */
/** East Asian Wide/Fullwidth ranges (Unicode's EastAsianWidth W and F), as wcwidth counts them. */
const WIDE_RANGES = [
    [0x1100, 0x115f],
    [0x231a, 0x231b],
    [0x2329, 0x232a],
    [0x23e9, 0x23ec],
    [0x23f0, 0x23f0],
    [0x23f3, 0x23f3],
    [0x25fd, 0x25fe],
    [0x2614, 0x2615],
    [0x2648, 0x2653],
    [0x267f, 0x267f],
    [0x2693, 0x2693],
    [0x26a1, 0x26a1],
    [0x26aa, 0x26ab],
    [0x26bd, 0x26be],
    [0x26c4, 0x26c5],
    [0x26ce, 0x26ce],
    [0x26d4, 0x26d4],
    [0x26ea, 0x26ea],
    [0x26f2, 0x26f3],
    [0x26f5, 0x26f5],
    [0x26fa, 0x26fa],
    [0x26fd, 0x26fd],
    [0x2705, 0x2705],
    [0x270a, 0x270b],
    [0x2728, 0x2728],
    [0x274c, 0x274c],
    [0x274e, 0x274e],
    [0x2753, 0x2755],
    [0x2757, 0x2757],
    [0x2795, 0x2797],
    [0x27b0, 0x27b0],
    [0x27bf, 0x27bf],
    [0x2b1b, 0x2b1c],
    [0x2b50, 0x2b50],
    [0x2b55, 0x2b55],
    [0x2e80, 0x303e],
    [0x3041, 0x33ff],
    [0x3400, 0x4dbf],
    [0x4e00, 0x9fff],
    [0xa000, 0xa4cf],
    [0xa960, 0xa97f],
    [0xac00, 0xd7a3],
    [0xf900, 0xfaff],
    [0xfe10, 0xfe19],
    [0xfe30, 0xfe6f],
    [0xff00, 0xff60],
    [0xffe0, 0xffe6],
    [0x16fe0, 0x18cff],
    [0x1b000, 0x1b2ff],
    [0x1f004, 0x1f004],
    [0x1f0cf, 0x1f0cf],
    [0x1f18e, 0x1f18e],
    [0x1f191, 0x1f19a],
    [0x1f200, 0x1f251],
    [0x1f300, 0x1f320],
    [0x1f32d, 0x1f335],
    [0x1f337, 0x1f37c],
    [0x1f37e, 0x1f393],
    [0x1f3a0, 0x1f3ca],
    [0x1f3cf, 0x1f3d3],
    [0x1f3e0, 0x1f3f0],
    [0x1f3f4, 0x1f3f4],
    [0x1f3f8, 0x1f43e],
    [0x1f440, 0x1f440],
    [0x1f442, 0x1f4fc],
    [0x1f4ff, 0x1f53d],
    [0x1f54b, 0x1f54e],
    [0x1f550, 0x1f567],
    [0x1f57a, 0x1f57a],
    [0x1f595, 0x1f596],
    [0x1f5a4, 0x1f5a4],
    [0x1f5fb, 0x1f64f],
    [0x1f680, 0x1f6c5],
    [0x1f6cc, 0x1f6cc],
    [0x1f6d0, 0x1f6d2],
    [0x1f6d5, 0x1f6d7],
    [0x1f6eb, 0x1f6ec],
    [0x1f6f4, 0x1f6fc],
    [0x1f7e0, 0x1f7eb],
    [0x1f90c, 0x1f93a],
    [0x1f93c, 0x1f945],
    [0x1f947, 0x1f9ff],
    [0x1fa70, 0x1faff],
    [0x20000, 0x2fffd],
    [0x30000, 0x3fffd],
];
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060-\u2063]$/u;
/** One character's display width as wcwidth.wcwidth gives it (-1 for control characters). */
function charWidth(ch) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 0)
        return 0;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0))
        return -1;
    if (ZERO_WIDTH.test(ch))
        return 0;
    return WIDE_RANGES.some(([low, high]) => code >= low && code <= high) ? 2 : 1;
}
/** wcwidth.wcswidth as PrettyTable uses it (-1 when the text holds a control character). */
export function displayWidth(text) {
    let width = 0;
    for (const ch of text.replace(/\x1b\[[0-9;]*m|\x1b\(B/g, '')) {
        const w = charWidth(ch);
        if (w < 0)
            return -1;
        width += w;
    }
    return width;
}
function justify(text, width, align) {
    const excess = Math.max(0, width - displayWidth(text));
    return align === 'r' ? ' '.repeat(excess) + text : text + ' '.repeat(excess);
}
function injectTitle(line, title) {
    const lineChars = Array.from(line);
    const header = Array.from(title).slice(0, Math.max(0, lineChars.length - 2));
    return (lineChars[0] ?? '') + header.join('') + lineChars.slice(1 + header.length).join('');
}
/** Renders the table; `rows` hold display strings (Python str() of each value) with one entry per column. */
export function renderPatronictlTable(title, columns, rows, align = {}) {
    const alignments = columns.map((column) => align[column] ?? 'l');
    const cellLines = rows.map((row) => columns.map((_, index) => (row[index] ?? '').split('\n')));
    const widths = columns.map((column, index) => Math.max(displayWidth(column), ...cellLines.map((row) => Math.max(...(row[index] ?? ['']).map(displayWidth)))));
    const rule = '+' + widths.map((width) => '-'.repeat(width + 2)).join('+') + '+';
    const renderLine = (cells) => '|' + cells.map((cell, index) => ` ${justify(cell, widths[index] ?? 0, alignments[index] ?? 'l')} `).join('|') + '|';
    const ruleBetweenRows = cellLines.some((row) => row.some((lines) => lines.length > 1));
    const lines = [injectTitle(rule, title), renderLine(columns), rule];
    for (const row of cellLines) {
        const height = Math.max(...row.map((cell) => cell.length));
        for (let y = 0; y < height; y++)
            lines.push(renderLine(row.map((cell) => cell[y] ?? '')));
        if (ruleBetweenRows)
            lines.push(rule);
    }
    if (!ruleBetweenRows)
        lines.push(rule);
    return lines.join('\n');
}
//# sourceMappingURL=patronictl-table.js.map