/**
 * The PrettyTable grid patronictl draws, against patronictl's own PatronictlPrettyTable output and
 * wcwidth's display widths (fixtures/record-python.py): title cut into the top border, wide
 * characters, right alignment, multi-line cells with rules between rows, the empty table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayWidth, renderPatronictlTable } from '../../../src/patroni/patronictl-table.js';
import { readJsonFixture } from './recorded-scenarios.js';
test('display widths match wcwidth.wcswidth', () => {
    for (const { text, width } of readJsonFixture('wcwidth-compat.json')) {
        assert.equal(displayWidth(text), width, JSON.stringify(text));
    }
});
readJsonFixture('table-compat.json').forEach((tableCase, index) => {
    test(`table ${index} matches PatronictlPrettyTable: ${tableCase.title.trim()}`, () => {
        assert.equal(renderPatronictlTable(tableCase.title, tableCase.columns, tableCase.rows, tableCase.align), tableCase.output);
    });
});
//# sourceMappingURL=patronictl-table.test.js.map