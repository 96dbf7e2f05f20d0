/**
 * Which changes under the cluster prefix wake the agent before its loop_wait is up (the watch in
 * agent.ts): the keys every member acts on at once (the leader key, the dynamic configuration, a
 * switchover request, the initialize key), a reset of the watch (changes were missed), and, for
 * the leader, a member key that appears (its replication slot is created at once, so a replica
 * that rejoins after a restart, a freeze or a re-clone streams without waiting loop_wait).
 *
 * Keys are compared whole: a member may be named "leader" or "config", and its key
 * (`<prefix>members/leader`) must not wake every agent each time it changes.
 */
import type { ClusterKeys } from '../patroni/dcs-layout.js';
import type { WatchEvent } from '../dcs/types.js';

export function watchEventWakes(event: WatchEvent, keys: ClusterKeys, leads: boolean): boolean {
  if (event.kind === 'reset') return true;
  const wakeKeys = [keys.leader, keys.config, keys.failover, keys.initialize];
  if (event.keys.some((k) => wakeKeys.includes(k))) return true;
  return leads && event.created.some((k) => k.startsWith(keys.membersPrefix) && !k.slice(keys.membersPrefix.length).includes('/'));
}
