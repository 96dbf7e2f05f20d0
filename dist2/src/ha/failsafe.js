export const FAILSAFE_POST_TIMEOUT_MS = 2000;
/** POSTs to every other member of `topology`; true when all answered 200 (a one-member topology is true). */
export async function confirmTopology(peers, self, topology, body, auth, log) {
    if (topology === null || !(self in topology))
        return false;
    const others = Object.entries(topology).filter(([name]) => name !== self);
    const answers = await Promise.all(others.map(async ([name, apiUrl]) => {
        const code = await peers.postFailsafe(apiUrl, body, auth, FAILSAFE_POST_TIMEOUT_MS);
        if (code !== 200)
            log.info(`failsafe: ${name} ${code === null ? 'did not answer' : `answered ${code}`}`);
        return code === 200;
    }));
    return answers.every(Boolean);
}
/** What this member heard through POST /failsafe. The REST API hands requests in; decide reads `heard`. */
export class FailsafeInbox {
    heard = null;
    /** This member is racing for the leader key right now (its acquire is in flight). */
    racing = false;
    /**
     * Patroni's do_POST_failsafe: refuse with failsafe_mode off, and while this member runs as a
     * primary, holds or promotes for the key (`leading`), or races for it — accepting is a promise
     * not to race for ttl, which a member already racing cannot keep.
     */
    accept(body, nowMs, enabled, leading) {
        if (!enabled)
            return { code: 502, text: 'failsafe mode is not enabled' };
        if (leading)
            return { code: 500, text: 'Running as a leader' };
        if (this.racing)
            return { code: 503, text: 'racing for the leader key' };
        const name = typeof body['name'] === 'string' ? body['name'] : null;
        if (name === null)
            return { code: 400, text: 'missing "name"' };
        this.heard = { name, connUrl: typeof body['conn_url'] === 'string' ? body['conn_url'] : null, atMs: nowMs };
        return { code: 200, text: 'Accepted' };
    }
    /** A leader's POST was accepted after `sinceMs` (monotonic). */
    heardSince(sinceMs) {
        return this.heard !== null && this.heard.atMs >= sinceMs;
    }
    /** A leader was heard within ttl (this member takes part in an active failsafe). */
    active(nowMs, ttlMs) {
        return this.heard !== null && nowMs - this.heard.atMs < ttlMs;
    }
}
//# sourceMappingURL=failsafe.js.map