/**
 * Reading PostgreSQL's own server log for what the SQL interface does not tell: why the WAL
 * receiver is not streaming (a failed authentication, a timeline the primary does not have).
 * Pure: the caller hands in the tail of the log.
 */
const RECEIVER_FAILURE = /(?:FATAL|ERROR):\s+((?:could not connect to the primary server|could not start WAL streaming|could not receive data from WAL stream|highest timeline \d+ of the primary is behind)[^\n]*)/;
const STREAMING_STARTED = /started streaming WAL from primary/;
/**
 * The WAL receiver's last error after it last started streaming, reduced to its innermost cause
 * ("password authentication failed for user \"replicator\""), or null when there is none.
 */
export function lastReceiverError(logTail) {
    let error = null;
    for (const line of logTail.split('\n')) {
        if (STREAMING_STARTED.test(line)) {
            error = null;
            continue;
        }
        const match = RECEIVER_FAILURE.exec(line);
        if (match?.[1] !== undefined)
            error = innermostCause(match[1]);
    }
    return error;
}
/** "could not connect ...: connection to server at ... failed: FATAL:  password ..." -> "password ...". */
function innermostCause(message) {
    const nested = message.split(/(?:FATAL|ERROR):\s+/);
    const last = nested[nested.length - 1]?.trim() ?? message;
    return last === '' ? message.trim() : last;
}
//# sourceMappingURL=server-log.js.map