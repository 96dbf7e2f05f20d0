/**
 * Reading PostgreSQL's own server log for what the SQL interface does not tell: why the WAL
 * receiver is not streaming (a failed authentication, a timeline the primary does not have), and
 * commits that became visible without being replicated (a client cancelled its wait for
 * synchronous replication — or for the fence, which is the same wait). Pure: the caller hands in
 * the text.
 */

const RECEIVER_FAILURE =
  /(?:FATAL|ERROR):\s+((?:could not connect to the primary server|could not start WAL streaming|could not receive data from WAL stream|highest timeline \d+ of the primary is behind)[^\n]*)/;
const STREAMING_STARTED = /started streaming WAL from primary/;

/**
 * The WAL receiver's last error after it last started streaming, reduced to its innermost cause
 * ("password authentication failed for user \"replicator\""), or null when there is none.
 */
export function lastReceiverError(logTail: string): string | null {
  let error: string | null = null;
  for (const line of logTail.split('\n')) {
    if (STREAMING_STARTED.test(line)) {
      error = null;
      continue;
    }
    const match = RECEIVER_FAILURE.exec(line);
    if (match?.[1] !== undefined) error = innermostCause(match[1]);
  }
  return error;
}

/** "could not connect ...: connection to server at ... failed: FATAL:  password ..." -> "password ...". */
function innermostCause(message: string): string {
  const nested = message.split(/(?:FATAL|ERROR):\s+/);
  const last = nested[nested.length - 1]?.trim() ?? message;
  return last === '' ? message.trim() : last;
}

/**
 * PostgreSQL's DETAIL when a backend stops waiting for synchronous replication (the client
 * cancelled, or the backend was terminated) after its commit was written locally: the commit is
 * now visible on this server, though no standby confirmed it (syncrep.c).
 */
const LOCAL_ONLY_COMMIT = /DETAIL:\s+The transaction has already committed locally, but might not have been replicated to the standby\./g;

/** How many commits in `logText` became visible locally without the replication they waited for. */
export function countLocalOnlyCommits(logText: string): number {
  return logText.match(LOCAL_ONLY_COMMIT)?.length ?? 0;
}
