/**
 * pg_controldata: what a stopped (or running) data directory says about itself — system
 * identifier, cluster state, timeline, checkpoint position, checksums. The parser is pure.
 */
import { join } from 'node:path';
import { runProgramOrFail } from './run.js';
import { parseLsn } from '../ha/core/lsn.js';
export function parseControlData(text) {
    const raw = {};
    for (const line of text.split('\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0)
            continue;
        raw[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    return {
        systemIdentifier: raw['Database system identifier'] ?? '',
        clusterState: raw['Database cluster state'] ?? 'unknown',
        // After pg_rewind the minimum recovery point is on the source's (newer) timeline already.
        timeline: Math.max(Number(raw["Latest checkpoint's TimeLineID"] ?? 0), Number(raw["Min recovery ending loc's timeline"] ?? 0)),
        checkpointLsn: parseLsn(raw['Latest checkpoint location'] ?? '0/0'),
        minRecoveryEndLsn: parseLsn(raw['Minimum recovery ending location'] ?? '0/0'),
        dataChecksums: (raw['Data page checksum version'] ?? '0') !== '0',
        walLogHints: (raw['wal_log_hints setting'] ?? 'off') === 'on',
        raw,
    };
}
export async function readControlData(binDir, dataDir) {
    const result = await runProgramOrFail(join(binDir, 'pg_controldata'), ['-D', dataDir], { timeoutMs: 30_000, env: { LC_ALL: 'C' } }, 'pg_controldata');
    return parseControlData(result.stdout);
}
//# sourceMappingURL=controldata.js.map