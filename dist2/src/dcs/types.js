/**
 * The distributed configuration store as keel sees it: Patroni's key layout under
 * /<namespace>/<scope>/ and the operations the agent and the CLI need.
 *
 * Invariants the implementations keep (they are what makes leader election safe):
 *  - the leader key is only ever created with a create-only transaction and is attached to the
 *    agent's lease, so it disappears by itself at most `ttl` after the last successful keepalive;
 *  - `config`, `failover` and `sync` are written with compare-and-swap on mod_revision;
 *  - every call has a deadline no longer than retry_timeout; a failing endpoint is skipped.
 * Time is never read here for safety purposes: callers measure keepalive send times themselves.
 */
export { DcsUnavailableError } from '../engine/etcd/etcd-errors.js';
//# sourceMappingURL=types.js.map