/**
 * The diff `edit-config` shows before asking: Python's difflib.unified_diff(before, after) as
 * patronictl prints it (no file names after "---"/"+++", three lines of context, hunk ranges
 * "start,length" with the length left out when it is 1). The hunks come from the `diff` library.
 */
import { structuredPatch } from 'diff';
function range(start, length) {
    if (length === 1)
        return `${start}`;
    // difflib: an empty range starts on the line before it
    return length === 0 ? `${start - 1},0` : `${start},${length}`;
}
/** Lines of the unified diff (without newlines); empty when the texts are equal. */
export function unifiedDiffLines(before, after) {
    const normalise = (text) => text.replace(/\n*$/, '\n');
    const patch = structuredPatch('', '', normalise(before), normalise(after), '', '', { context: 3 });
    if (patch.hunks.length === 0)
        return [];
    const lines = ['--- ', '+++ '];
    for (const hunk of patch.hunks) {
        const oldStart = hunk.oldLines === 0 ? hunk.oldStart + 1 : hunk.oldStart;
        const newStart = hunk.newLines === 0 ? hunk.newStart + 1 : hunk.newStart;
        lines.push(`@@ -${range(oldStart, hunk.oldLines)} +${range(newStart, hunk.newLines)} @@`);
        lines.push(...hunk.lines.filter((line) => !line.startsWith('\\')));
    }
    return lines;
}
//# sourceMappingURL=unified-diff.js.map