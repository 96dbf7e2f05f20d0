/**
 * Fast self-fencing on isolation (issue 10, part 2), the rule.
 *
 * A leader that can reach neither etcd nor any other member has nothing to wait for: no
 * keepalive can succeed and no member can vouch for it (failsafe_mode), so its lease will run
 * out, and every commit it acknowledges meanwhile is one the next leader will not have. Waiting
 * for retry_timeout (the lease guard) only widens the asynchronous loss window. So it fences at
 * once — commits block, nothing is lost or stopped — and the fence is lifted by the usual rule,
 * only once the lease is confirmed again.
 *
 * Not isolated: etcd answered (the lease holds), or any member answered (the leader may be on
 * the majority side with etcd merely down — failsafe_mode's case — or the replicas still stream).
 * A cluster of one has no one to hand over to: fencing it would only stop writes.
 */

export interface IsolationFacts {
  /** A lease keepalive with a short deadline was confirmed. */
  etcdAnswered: boolean;
  /** Other members known from the cluster view (with a REST address). */
  peers: number;
  /** How many of them accepted a TCP connection in time. */
  peersAnswered: number;
}

export function isolated(facts: IsolationFacts): boolean {
  return !facts.etcdAnswered && facts.peers > 0 && facts.peersAnswered === 0;
}
