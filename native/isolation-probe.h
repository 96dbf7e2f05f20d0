/*
 * keel-fence's isolation probe (isolation-probe.c): the leader's "can I still reach etcd's quorum
 * or any member?" question, asked every few hundred milliseconds from C instead of from the
 * agent's event loop, where each wake-up and request costs about a millisecond of CPU (issue 12).
 */
#ifndef KEEL_ISOLATION_PROBE_H
#define KEEL_ISOLATION_PROBE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* Most pollfds the probe adds to keel-fence's poll (one etcd connection, one per member, the WAL watch). */
#define PROBE_MAX_TARGETS 16
#define PROBE_MAX_FDS (2 + PROBE_MAX_TARGETS)

/*
 * Starts the probe, or replaces its settings (the round under way is dropped). `args` is what
 * follows "probe " on the request line:
 *   <every_ms> <etcd_timeout_ms> <quick_ms> <peer_timeout_ms> <etcd> <members> <request>
 * <etcd> and <members> are comma-separated numeric addresses (ip:port, [ipv6]:port; "-" for none),
 * <request> the whole HTTP/1.1 request for a linearizable read, in hex. Returns 0, or -1 with `why`.
 */
int probe_configure(const char *args, char *why, size_t why_len);
/* The data directory whose pg_wal sets the pace (isolation-probe.c says how); call once, before probing. */
void probe_watch_wal(const char *data_dir);
void probe_stop(void);
int probe_running(void);

/* Adds the probe's descriptors to `fds` (room for PROBE_MAX_FDS); returns how many. */
int probe_pollfds(struct pollfd *fds);
/* Milliseconds until the probe's next deadline (-1: none). */
int probe_timeout_ms(int64_t now_ns);
/*
 * After poll: handles the probe's descriptors (the `n` entries probe_pollfds added, with their
 * revents) and deadlines. A round that was not a quick answer from etcd, and the first quick one
 * after such a round, is reported through `report` as
 *   "probe <etcd_answered 0|1> <members> <members_answered> <http_status> <round_ms>"
 */
void probe_step(const struct pollfd *fds, int n, int64_t now_ns, void (*report)(const char *line));

#endif
