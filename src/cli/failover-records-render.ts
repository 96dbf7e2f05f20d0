/**
 * `keel history --details`: the failover records (ha/core/failover-record.ts), oldest first, one
 * block each — what happened and when, what may have been lost, every member the new leader
 * weighed and why it was or was not chosen (a table), and how the old leader rejoined.
 */
import type { FailoverRecord } from '../ha/core/failover-record.js';
import { formatLsn } from '../ha/core/lsn.js';
import { renderPatronictlTable } from '../patroni/patronictl-table.js';

const lsn = (bytes: number | null): string => (bytes === null ? '?' : formatLsn(bytes));
const at = (iso: string | null): string => iso ?? '?';

function renderOne(record: FailoverRecord): string {
  const lines = [
    `${record.kind} ${record.oldLeader ?? '?'} -> ${record.newLeader}, timeline ${record.timeline ?? '?'} from ${lsn(record.timelineStartLsn)}`,
    `  old leader last seen      ${at(record.oldLeaderLastSeenAt)}`,
    `  leader key gone (seen)    ${at(record.leaderKeyGoneSeenAt)}`,
    `  key taken                 ${record.keyTakenAt}`,
    `  promoted                  ${at(record.promotedAt)}`,
    `  accepting writes          ${at(record.acceptingWritesAt)}`,
    `  old leader's last LSN     ${lsn(record.oldLeaderLastLsn)}: ${record.bytesPossiblyLost === null ? 'loss unknown' : `${record.bytesPossiblyLost} bytes possibly lost`}`,
    record.rejoin === null
      ? '  rejoin                    not yet'
      : `  rejoin                    ${record.rejoin.method} at ${record.rejoin.at}${record.rejoin.afterPromotionMs === null ? '' : ` (${(record.rejoin.afterPromotionMs / 1000).toFixed(1)} s after the promotion)`}`,
  ];
  const table = renderPatronictlTable(
    '',
    ['Member', 'Chosen', 'WAL', 'TL', 'Priority', 'Why'],
    record.considered.map((m) => [
      m.name,
      m.chosen ? 'yes' : 'no',
      lsn(m.walPositionBytes),
      m.timeline === null ? '' : String(m.timeline),
      m.failoverPriority === null ? '' : String(m.failoverPriority),
      m.reason,
    ]),
  );
  return `${lines.join('\n')}\n${table}`;
}

export function renderFailoverRecords(records: readonly FailoverRecord[], format: 'pretty' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(records, null, 2)}\n`;
  if (records.length === 0) return 'no failover or switchover recorded yet\n';
  return `${records.map(renderOne).join('\n\n')}\n`;
}
