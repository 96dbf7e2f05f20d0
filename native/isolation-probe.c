/*
 * keel-fence's isolation probe: the leader's self-fencing question (issue 10, part 2) asked from
 * C (issue 12). The rule stays in the agent (src/ha/core/isolation.ts); this file only gathers
 * the facts, the way src/ha/isolation-watch.ts does in Node for the agents that cannot use it:
 *
 *   every <every_ms> after the previous round ended, one linearizable read of the leader key is
 *   sent to etcd (over a kept-alive HTTP/1.1 connection) with <etcd_timeout_ms>; when no answer
 *   came within <quick_ms>, a TCP connection is also opened to every other member's REST address
 *   with <peer_timeout_ms>. The round ends when etcd answered quickly, or when etcd and every
 *   member have answered or timed out.
 *
 * A healthy round costs two system calls on each side and reports nothing; the agent hears only
 * of rounds where etcd was slow or silent (and of the first quick one after them), so its event
 * loop stays asleep while nothing happens. Only HTTP status 200 counts as etcd answering: a
 * refusal (an expired token: 401) is no proof that etcd has a quorum, and the agent, told its
 * status, renews the token and sends the probe a new request.
 *
 * The pace follows PostgreSQL's WAL. The probe exists to shrink what an isolated asynchronous
 * leader acknowledges and then loses, and PostgreSQL writes a commit's WAL before it acknowledges
 * it: a primary that wrote no WAL for QUIET_AFTER_ROUNDS * every_ms (10 s at the agent's 400 ms)
 * has acknowledged nothing that could be lost, so rounds then come every QUIET_PACE * every_ms
 * (2 s) instead. An inotify watch on pg_wal brings the probe back at once: the first write starts
 * a round (right after the one under way, if any), and rounds keep the fast pace until the WAL is
 * quiet again. So an isolation is still found within two rounds of the first write after a quiet
 * spell (0.8 s at the agent's settings), as within a pace and a round at the fast pace.
 * The watch is polled only while quiet (a busy primary writes WAL many times a second; while fast,
 * its queue is read at the end of each round instead, where identical events have merged). No
 * pg_wal to watch (or no inotify) keeps the fast pace.
 *
 * Plain http only: with TLS the agent probes from Node (this helper links no TLS library).
 */
#define _GNU_SOURCE
#include "isolation-probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_MAX 4096
#define ANSWER_MAX 8192
/* Rounds without a WAL write after which the probe slows down, and how much (see above). */
#define QUIET_AFTER_ROUNDS 25
#define QUIET_PACE 5

struct target {
  struct sockaddr_storage addr;
  socklen_t len;
};

static struct {
  int on;
  int every_ms, etcd_timeout_ms, quick_ms, peer_timeout_ms;
  struct target etcd[PROBE_MAX_TARGETS];
  int n_etcd;
  struct target peers[PROBE_MAX_TARGETS];
  int n_peers;
  char request[REQUEST_MAX];
  size_t request_len;
} cfg;

enum etcd_phase { E_NONE, E_CONNECTING, E_SENDING, E_READING, E_IDLE };

static struct {
  int in_round;
  int64_t round_start_ns, next_round_ns;
  /* etcd: one connection, kept open between rounds (E_IDLE) when etcd allows it */
  int etcd_fd;
  enum etcd_phase phase;
  int endpoint;   /* index into cfg.etcd of the connection's endpoint, and the next one to try */
  int tried;      /* endpoints tried this round */
  int reused;     /* this round's request went on a kept-alive connection */
  size_t sent;
  char answer[ANSWER_MAX + 1];
  size_t answer_len;
  int etcd_done, etcd_status;
  /* members */
  int peers_started, peers_pending, peers_answered;
  int64_t peers_deadline_ns;
  int peer_fd[PROBE_MAX_TARGETS];
  /* the last round ended with a quick answer from etcd (nothing to report) */
  int last_quick;
  /* the next round was set at the quiet pace (the WAL watch is polled meanwhile) */
  int quiet;
} run = {.etcd_fd = -1, .peer_fd = {[0 ... PROBE_MAX_TARGETS - 1] = -1}, .last_quick = 1};

/* PostgreSQL's WAL directory, watched to set the pace (inotify; fd -1 when it cannot be watched). */
static struct {
  char dir[PATH_MAX];
  int fd, wd;
  int64_t last_write_ns;
} wal = {.dir = "", .fd = -1, .wd = -1};

static int64_t ms_ns(int ms) { return (int64_t)ms * 1000000LL; }

static int parse_address(const char *text, size_t len, struct target *out) {
  char buf[128];
  if (len == 0 || len >= sizeof buf) return -1;
  memcpy(buf, text, len);
  buf[len] = '\0';
  char *host = buf;
  char *colon = strrchr(buf, ':');
  if (colon == NULL) return -1;
  *colon = '\0';
  const char *port = colon + 1;
  if (host[0] == '[') {
    size_t hl = strlen(host);
    if (hl < 2 || host[hl - 1] != ']') return -1;
    host[hl - 1] = '\0';
    host++;
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) return -1;
  memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
  out->len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

/* "a,b,c" or "-" into targets; returns the count or -1. */
static int parse_list(const char *text, struct target *out) {
  if (strcmp(text, "-") == 0) return 0;
  int n = 0;
  const char *start = text;
  for (;;) {
    const char *comma = strchr(start, ',');
    size_t len = comma == NULL ? strlen(start) : (size_t)(comma - start);
    if (n >= PROBE_MAX_TARGETS || parse_address(start, len, &out[n]) != 0) return -1;
    n++;
    if (comma == NULL) return n;
    start = comma + 1;
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void close_etcd(void) {
  if (run.etcd_fd >= 0) close(run.etcd_fd);
  run.etcd_fd = -1;
  run.phase = E_NONE;
}

static void close_peers(void) {
  for (int i = 0; i < PROBE_MAX_TARGETS; i++) {
    if (run.peer_fd[i] >= 0) close(run.peer_fd[i]);
    run.peer_fd[i] = -1;
  }
  run.peers_pending = 0;
}

static void wal_unwatch(void) {
  if (wal.fd >= 0) close(wal.fd);
  wal.fd = -1;
  wal.wd = -1;
}

/*
 * Watches pg_wal when it is not watched yet (or any more: a re-cloned data directory has a new
 * one); a watch just set has seen nothing, so the pace stays fast until the WAL is proven quiet.
 */
static void wal_watch(int64_t now) {
  if (wal.dir[0] == '\0' || wal.wd >= 0) return;
  if (wal.fd < 0) wal.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (wal.fd < 0) return;
  /* IN_MODIFY: a WAL write; IN_CREATE/IN_MOVED_TO: a new or recycled segment; the rest: pg_wal replaced. */
  wal.wd = inotify_add_watch(wal.fd, wal.dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF);
  wal.last_write_ns = now;
}

/* Reads what the watch queued; 1 when PostgreSQL wrote WAL (or the watch was lost) since the last read. */
static int wal_drain(int64_t now) {
  if (wal.fd < 0) return 0;
  char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  int wrote = 0;
  for (;;) {
    ssize_t n = read(wal.fd, events, sizeof events);
    if (n <= 0) break;
    wrote = 1;
    for (char *p = events; p < events + n;) {
      const struct inotify_event *e = (const struct inotify_event *)p;
      /* pg_wal deleted or moved away: the kernel drops the watch (IN_IGNORED follows). */
      if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (wal.wd >= 0) inotify_rm_watch(wal.fd, wal.wd);
        wal.wd = -1;
      }
      p += sizeof *e + e->len;
    }
  }
  if (wrote) wal.last_write_ns = now;
  return wrote;
}

/* No WAL written for QUIET_AFTER_ROUNDS rounds' worth of time, by a watch that is in place. */
static int wal_quiet(int64_t now) {
  return wal.wd >= 0 && now - wal.last_write_ns >= ms_ns(cfg.every_ms) * QUIET_AFTER_ROUNDS;
}

void probe_watch_wal(const char *data_dir) {
  int n = snprintf(wal.dir, sizeof wal.dir, "%s/pg_wal", data_dir);
  if (n < 0 || (size_t)n >= sizeof wal.dir) wal.dir[0] = '\0';
}

void probe_stop(void) {
  close_etcd();
  close_peers();
  wal_unwatch();
  cfg.on = 0;
  run.in_round = 0;
  run.last_quick = 1;
  run.quiet = 0;
}

int probe_running(void) { return cfg.on; }

int probe_configure(const char *args, char *why, size_t why_len) {
  int every, etcd_timeout, quick, peer_timeout;
  char etcd[1024], peers[1024];
  int used = 0;
  if (sscanf(args, "%d %d %d %d %1023s %1023s %n", &every, &etcd_timeout, &quick, &peer_timeout, etcd, peers, &used) != 6 || used == 0) {
    snprintf(why, why_len, "probe needs: every_ms etcd_timeout_ms quick_ms peer_timeout_ms etcd members request");
    return -1;
  }
  if (every < 10 || etcd_timeout < 10 || quick < 1 || peer_timeout < 10) {
    snprintf(why, why_len, "probe timings out of range");
    return -1;
  }
  struct target etcd_targets[PROBE_MAX_TARGETS], peer_targets[PROBE_MAX_TARGETS];
  int n_etcd = parse_list(etcd, etcd_targets);
  int n_peers = parse_list(peers, peer_targets);
  if (n_etcd <= 0 || n_peers < 0) {
    snprintf(why, why_len, "probe addresses must be numeric ip:port lists (at most %d)", PROBE_MAX_TARGETS);
    return -1;
  }
  const char *hex = args + used;
  size_t hex_len = strcspn(hex, " \r\n");
  if (hex_len == 0 || hex_len % 2 != 0 || hex_len / 2 > REQUEST_MAX) {
    snprintf(why, why_len, "probe request must be hex, at most %d bytes", REQUEST_MAX);
    return -1;
  }
  char request[REQUEST_MAX];
  for (size_t i = 0; i < hex_len / 2; i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      snprintf(why, why_len, "probe request must be hex");
      return -1;
    }
    request[i] = (char)(hi * 16 + lo);
  }
  probe_stop();
  cfg.every_ms = every;
  cfg.etcd_timeout_ms = etcd_timeout;
  cfg.quick_ms = quick;
  cfg.peer_timeout_ms = peer_timeout;
  memcpy(cfg.etcd, etcd_targets, sizeof etcd_targets);
  cfg.n_etcd = n_etcd;
  memcpy(cfg.peers, peer_targets, sizeof peer_targets);
  cfg.n_peers = n_peers;
  memcpy(cfg.request, request, hex_len / 2);
  cfg.request_len = hex_len / 2;
  cfg.on = 1;
  run.endpoint = 0;
  run.next_round_ns = 0; /* the first round starts at once */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  wal_watch((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  return 0;
}

/* A non-blocking connect; the fd (connected or in progress), or -1 when it failed at once. */
static int start_connect(const struct target *t) {
  int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (const struct sockaddr *)&t->addr, t->len) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static void etcd_finish(int status) {
  run.etcd_done = 1;
  run.etcd_status = status;
}

/* The current endpoint failed to answer: the next one is tried, in this round if one is left. */
static void etcd_failed(void) {
  close_etcd();
  run.endpoint = (run.endpoint + 1) % cfg.n_etcd;
  if (run.tried >= cfg.n_etcd) etcd_finish(0);
}

static void etcd_send_on_new_connection(void) {
  while (!run.etcd_done && run.etcd_fd < 0) {
    run.tried++;
    run.reused = 0;
    run.etcd_fd = start_connect(&cfg.etcd[run.endpoint]);
    if (run.etcd_fd < 0) {
      etcd_failed();
      continue;
    }
    run.phase = E_CONNECTING;
    run.sent = 0;
    run.answer_len = 0;
  }
}

static void start_round(int64_t now) {
  run.in_round = 1;
  run.round_start_ns = now;
  run.tried = 0;
  run.etcd_done = 0;
  run.etcd_status = 0;
  run.peers_started = 0;
  run.peers_answered = 0;
  run.peers_pending = 0;
  run.sent = 0;
  run.answer_len = 0;
  if (run.phase == E_IDLE) {
    run.tried = 1;
    run.reused = 1;
    run.phase = E_SENDING;
  } else {
    close_etcd();
    etcd_send_on_new_connection();
  }
}

static void start_peers(int64_t now) {
  run.peers_started = 1;
  run.peers_deadline_ns = now + ms_ns(cfg.peer_timeout_ms);
  for (int i = 0; i < cfg.n_peers; i++) {
    run.peer_fd[i] = start_connect(&cfg.peers[i]);
    if (run.peer_fd[i] >= 0) run.peers_pending++;
  }
}

/*
 * The answer read so far: 1 complete (status set, `keep` whether the connection may be reused),
 * 0 incomplete, -1 malformed.
 */
static int answer_complete(int *status, int *keep) {
  run.answer[run.answer_len] = '\0';
  char *end = strstr(run.answer, "\r\n\r\n");
  if (end == NULL) return run.answer_len >= ANSWER_MAX ? -1 : 0;
  if (sscanf(run.answer, "HTTP/1.%*d %d", status) != 1) return -1;
  size_t head_len = (size_t)(end - run.answer) + 4;
  size_t body_len = run.answer_len - head_len;
  *keep = 1;
  long content_length = -1;
  int chunked = 0;
  for (char *line = strstr(run.answer, "\r\n"); line != NULL && line < end; line = strstr(line + 2, "\r\n")) {
    char *h = line + 2;
    if (strncasecmp(h, "content-length:", 15) == 0) content_length = strtol(h + 15, NULL, 10);
    else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strstr(h, "chunked") != NULL) chunked = 1;
    else if (strncasecmp(h, "connection:", 11) == 0 && strncasecmp(h + 11 + strspn(h + 11, " "), "close", 5) == 0) *keep = 0;
  }
  if (content_length >= 0) return body_len >= (size_t)content_length ? 1 : run.answer_len >= ANSWER_MAX ? -1 : 0;
  if (chunked) {
    if (body_len >= 5 && memcmp(run.answer + run.answer_len - 5, "0\r\n\r\n", 5) == 0) return 1;
    return run.answer_len >= ANSWER_MAX ? -1 : 0;
  }
  /* No length: the body ends with the connection, which is then not reused. */
  *keep = 0;
  return 1;
}

static void etcd_io(short revents) {
  if (run.phase == E_IDLE) {
    /* Between rounds: anything readable is the server closing (or garbage): start afresh next time. */
    close_etcd();
    return;
  }
  if (run.phase == E_CONNECTING) {
    if (!(revents & (POLLOUT | POLLERR | POLLHUP))) return;
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(run.etcd_fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      etcd_failed();
      etcd_send_on_new_connection();
      return;
    }
    run.phase = E_SENDING;
  }
  if (run.phase == E_SENDING) {
    ssize_t n = send(run.etcd_fd, cfg.request + run.sent, cfg.request_len - run.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      if (run.reused) {
        /* A kept-alive connection the server had closed: one fresh connection, same endpoint. */
        close_etcd();
        run.tried = 0;
      } else {
        etcd_failed();
      }
      etcd_send_on_new_connection();
      return;
    }
    run.sent += (size_t)n;
    if (run.sent == cfg.request_len) run.phase = E_READING;
    return;
  }
  if (run.phase == E_READING) {
    ssize_t n = recv(run.etcd_fd, run.answer + run.answer_len, ANSWER_MAX - run.answer_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      int keep = 0, status = 0;
      if (n == 0 && run.answer_len > 0 && answer_complete(&status, &keep) == 1) {
        close_etcd();
        etcd_finish(status);
        return;
      }
      /* A kept-alive connection the server had closed: one fresh connection, same endpoint. */
      if (run.reused && run.answer_len == 0) {
        close_etcd();
        run.tried = 0;
        etcd_send_on_new_connection();
        return;
      }
      etcd_failed();
      etcd_send_on_new_connection();
      return;
    }
    run.answer_len += (size_t)n;
    int status = 0, keep = 0;
    int complete = answer_complete(&status, &keep);
    if (complete == 0) return;
    if (complete < 0) {
      close_etcd(); /* an answer, but not one we can read: no proof of a quorum */
      etcd_finish(0);
      return;
    }
    if (keep) run.phase = E_IDLE;
    else close_etcd();
    etcd_finish(status);
  }
}

static void peer_io(int i, short revents) {
  if (!(revents & (POLLOUT | POLLERR | POLLHUP))) return;
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(run.peer_fd[i], SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0) run.peers_answered++;
  close(run.peer_fd[i]);
  run.peer_fd[i] = -1;
  run.peers_pending--;
}

int probe_pollfds(struct pollfd *fds) {
  if (!cfg.on) return 0;
  int n = 0;
  /* revents cleared here: after a failed poll (EINTR) probe_step must see no event. */
  if (run.etcd_fd >= 0) {
    fds[n].revents = 0;
    fds[n].fd = run.etcd_fd;
    fds[n++].events = run.phase == E_CONNECTING || run.phase == E_SENDING ? POLLOUT : POLLIN;
  }
  for (int i = 0; i < cfg.n_peers; i++) {
    if (run.peer_fd[i] < 0) continue;
    fds[n].revents = 0;
    fds[n].fd = run.peer_fd[i];
    fds[n++].events = POLLOUT;
  }
  if (!run.in_round && run.quiet && wal.wd >= 0) {
    /* Quiet: the first WAL write wakes the probe. */
    fds[n].revents = 0;
    fds[n].fd = wal.fd;
    fds[n++].events = POLLIN;
  }
  return n;
}

int probe_timeout_ms(int64_t now) {
  if (!cfg.on) return -1;
  int64_t next;
  if (!run.in_round) next = run.next_round_ns;
  else {
    next = run.round_start_ns + ms_ns(cfg.etcd_timeout_ms);
    if (!run.peers_started && run.round_start_ns + ms_ns(cfg.quick_ms) < next) next = run.round_start_ns + ms_ns(cfg.quick_ms);
    if (run.peers_started && run.peers_pending > 0 && run.peers_deadline_ns < next) next = run.peers_deadline_ns;
  }
  int64_t left = (next - now + 999999) / 1000000LL;
  return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

void probe_step(const struct pollfd *fds, int n, int64_t now, void (*report)(const char *line)) {
  if (!cfg.on) return;
  for (int k = 0; k < n; k++) {
    if (fds[k].revents == 0) continue;
    if (fds[k].fd == run.etcd_fd) etcd_io(fds[k].revents);
    else if (fds[k].fd == wal.fd) {
      /* A WAL write while quiet: a round now (none is under way while the watch is polled). */
      if (wal_drain(now)) {
        run.next_round_ns = now;
        run.quiet = 0;
      }
    } else
      for (int i = 0; i < cfg.n_peers; i++)
        if (run.peer_fd[i] == fds[k].fd) peer_io(i, fds[k].revents);
  }
  if (!run.in_round) {
    if (now < run.next_round_ns) return;
    start_round(now);
    /* A reused connection sends at once, without waiting for poll to say it is writable. */
    if (run.phase == E_SENDING) etcd_io(POLLOUT);
  }
  if (!run.etcd_done && now >= run.round_start_ns + ms_ns(cfg.etcd_timeout_ms)) {
    /* Not answered in time: this connection may still carry the late answer, so it is dropped. */
    close_etcd();
    run.endpoint = (run.endpoint + 1) % cfg.n_etcd;
    etcd_finish(0);
  }
  int quick = run.etcd_done && run.etcd_status == 200 && !run.peers_started;
  if (!quick && !run.peers_started && (run.etcd_done || now >= run.round_start_ns + ms_ns(cfg.quick_ms))) start_peers(now);
  if (run.peers_started && run.peers_pending > 0 && now >= run.peers_deadline_ns) close_peers();
  if (!run.etcd_done || (run.peers_started && run.peers_pending > 0)) return;
  /* The round is over. The next one comes at the fast pace, or the quiet one (see the top). */
  run.in_round = 0;
  int wrote = wal_drain(now);
  wal_watch(now);
  if (run.quiet && wrote) {
    run.next_round_ns = now; /* the first write since a quiet spell: at once */
    run.quiet = 0;
  } else {
    run.quiet = wal_quiet(now);
    run.next_round_ns = now + ms_ns(cfg.every_ms) * (run.quiet ? QUIET_PACE : 1);
  }
  if (!quick || !run.last_quick) {
    char line[128];
    snprintf(line, sizeof line, "probe %d %d %d %d %d", run.etcd_status == 200, cfg.n_peers, run.peers_answered, run.etcd_status,
             (int)((now - run.round_start_ns) / 1000000LL));
    report(line);
  }
  run.last_quick = quick;
}
