/**
 * `keel history` output: patronictl 3.0.2's `history` — the history key's lines as a table with
 * columns TL, LSN, Reason, Timestamp, New Leader (short lines padded with empty cells; TL and LSN
 * right-aligned; no title), or json/yaml/tsv as patronictl's print_output writes them.
 */
import type { ClusterView } from '../dcs/types.js';
import { historyAsJson } from './cluster-json.js';
import { renderPatronictlTable } from './patronictl-table.js';
import { pyJsonDumps, pyStr, type JsonValue } from './python-compat.js';
import { pyYamlDump } from './pyyaml.js';
import type { ListFormat } from './list-render.js';

const COLUMNS = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'];

export function renderHistory(view: ClusterView, format: ListFormat = 'pretty'): string {
  const rows: JsonValue[][] = historyAsJson(view).map((line) => {
    const row: JsonValue[] = [...line];
    while (row.length < COLUMNS.length) row.push('');
    return row;
  });
  if (format === 'json' || format === 'yaml') {
    const elements = rows.map((row) => Object.fromEntries(COLUMNS.map((column, index) => [column, row[index] ?? ''])));
    return (format === 'json' ? pyJsonDumps(elements) : pyYamlDump(elements)) + '\n';
  }
  const text = rows.map((row) => row.map((cell) => pyStr(cell)));
  if (format === 'tsv') return [COLUMNS, ...text].map((line) => line.join('\t') + '\n').join('');
  return renderPatronictlTable('', COLUMNS, text, { TL: 'r', LSN: 'r' }) + '\n';
}
