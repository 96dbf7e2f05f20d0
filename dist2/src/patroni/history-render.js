import { historyAsJson } from './cluster-json.js';
import { renderPatronictlTable } from './patronictl-table.js';
import { pyJsonDumps, pyStr } from './python-compat.js';
import { pyYamlDump } from './pyyaml.js';
const COLUMNS = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'];
export function renderHistory(view, format = 'pretty') {
    const rows = historyAsJson(view).map((line) => {
        const row = [...line];
        while (row.length < COLUMNS.length)
            row.push('');
        return row;
    });
    if (format === 'json' || format === 'yaml') {
        const elements = rows.map((row) => Object.fromEntries(COLUMNS.map((column, index) => [column, row[index] ?? ''])));
        return (format === 'json' ? pyJsonDumps(elements) : pyYamlDump(elements)) + '\n';
    }
    const text = rows.map((row) => row.map((cell) => pyStr(cell)));
    if (format === 'tsv')
        return [COLUMNS, ...text].map((line) => line.join('\t') + '\n').join('');
    return renderPatronictlTable('', COLUMNS, text, { TL: 'r', LSN: 'r' }) + '\n';
}
//# sourceMappingURL=history-render.js.map