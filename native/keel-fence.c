/*
 * keel-fence: the fence that holds when the agent is frozen (issue 10).
 *
 * The agent's lease guard is a timer inside the agent's process; a frozen process (SIGSTOP, a
 * long GC pause, a stuck disk read) runs no timer, and its PostgreSQL keeps acknowledging
 * commits after a replica has been promoted. This small process is fed by the agent with the
 * instant (CLOCK_MONOTONIC, nanoseconds) before which its authority to acknowledge commits ends;
 * when that instant passes unfed, it stops the postmaster itself (SIGQUIT: PostgreSQL's
 * immediate shutdown; SIGKILL of the postmaster and its children if that does not work).
 *
 * Why a separate C program: it must keep running when the agent does not (so it is not the
 * agent's thread), it runs on every database host (so it must cost nothing: no runtime, about a
 * megabyte), and it is what can program a kernel watchdog's timeout (an ioctl, which Node lacks).
 *
 * Protocol: one line per request on an abstract unix socket, one line per answer. Only a peer
 * with our uid (or root) is served (SO_PEERCRED): abstract sockets carry no file permissions.
 *   arm <deadline_ns>   deadline on CLOCK_MONOTONIC           -> "armed <remaining_ms>"
 *   disarm                                                     -> "disarmed"
 *   status                                                     -> "<state> <remaining_ms> <pid> <stops>"
 *   wd-open <device> <timeout_s>   open a watchdog device and program its timeout -> "wd ok <s>" | "wd error <why>"
 *   wd-ping <timeout_s>            program the timeout again and ping          -> "wd ok <s>" | "wd error <why>"
 *   wd-close                       magic close ('V'): the device stops         -> "wd closed"
 *   probe <settings>   start (or re-aim) the leader's isolation probe (isolation-probe.h)
 *                                                              -> "probe on" | "error <why>"
 *   probe-stop                                                 -> "probe off"
 *   quit                                                       -> "bye", then exit (disarmed)
 * The probe reports to the client that started it with unsolicited lines, "event probe ...",
 * which are not answers; it stops when that client disconnects. Each time it stops a postmaster
 * it tells every connected client "event fenced <stops> <pid>" (<stops>: how many it stopped since
 * it started), so an agent resumed after a freeze counts the fence in its metrics; an agent that
 * connects later reads the same count from `status`.
 * The deadline is converted to CLOCK_BOOTTIME on receipt, so time the machine spends suspended
 * counts as time passed; wall-clock steps (settimeofday, NTP) do not move either clock.
 *
 * Lifetime: it exits by itself once it is neither armed, nor holding a watchdog open, nor
 * connected to any agent for IDLE_EXIT_S seconds (so a test or an operator never finds stray
 * fences). While armed it waits for its deadline even when every agent is gone: a killed agent
 * is exactly when it is needed. A restarted agent connects to the same socket and feeds it again.
 * A watchdog it holds is pinged only when the agent asks (wd-ping): a frozen or dead agent lets
 * the device reset the machine, which is what the watchdog is for.
 *
 * usage: keel-fence --socket NAME --data-dir DIR
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/watchdog.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "isolation-probe.h"

#define MAX_CLIENTS 8
#define LINE_MAX_LEN 512
/* A request line: the probe's carries a whole HTTP request in hex. */
#define REQUEST_LINE_MAX 12288
#define IDLE_EXIT_S 5
/* After SIGQUIT, how long the postmaster gets before it and its children are SIGKILLed. */
#define QUIT_GRACE_MS 2000

/*
 * ARMED and past the deadline while PostgreSQL is in recovery: a replica acknowledges no commit,
 * so it is left running (the agent's own guard has the same rule) but watched, and stopped the
 * moment it leaves recovery (a promotion the frozen agent had started).
 */
enum state { DISARMED, ARMED, FIRED };
#define OVERDUE_POLL_MS 20

struct client {
  int fd;
  size_t len;
  char buf[REQUEST_LINE_MAX];
};

static const char *data_dir;
static enum state state = DISARMED;
static int64_t deadline_boot_ns;
static struct client clients[MAX_CLIENTS];
static int watchdog_fd = -1;
/*
 * A timer on CLOCK_BOOTTIME set to the deadline, polled while armed: poll's own timeout counts on
 * CLOCK_MONOTONIC, which stops while the machine is suspended, so without it a wait is cut to a
 * second (a fence at most that late after a resume), which woke an idle leader's keel-fence every
 * second for nothing. -1 when the kernel has none (that one-second cut is then kept).
 */
static int deadline_fd = -1;
/* The client the isolation probe reports to (the agent that started it), -1 when it does not run. */
static int probe_owner_fd = -1;
/* Postmasters this process stopped at a passed deadline (reported by status and "event fenced"). */
static unsigned long stops = 0;

static int64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * One log line on stderr, which the agent copies into its own log. It starts with keel-fence's own
 * (wall-clock, display-only) timestamp: a frozen agent reads the line only once it is resumed.
 */
static void logf_(const char *fmt, ...) {
  char line[LINE_MAX_LEN + 128];
  struct timespec wall;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &wall);
  gmtime_r(&wall.tv_sec, &tm);
  int n = (int)strftime(line, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf(line + n, 16, ".%03ldZ ", wall.tv_nsec / 1000000L);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  n += m;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  /* stderr is non-blocking: a frozen agent that does not read its end never blocks the fence. */
  ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
  (void)ignored;
}

/* The postmaster's pid from postmaster.pid, if that process is alive and is a postgres. */
static pid_t postmaster_pid(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/postmaster.pid", data_dir);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  long pid = 0;
  if (fscanf(f, "%ld", &pid) != 1) pid = 0;
  fclose(f);
  if (pid <= 0) return 0;
  /* A stale file may name a pid reused by another program: check its name. */
  snprintf(path, sizeof path, "/proc/%ld/comm", pid);
  f = fopen(path, "r");
  if (f == NULL) return 0;
  char comm[64] = "";
  if (fgets(comm, sizeof comm, f) == NULL) comm[0] = '\0';
  fclose(f);
  return strncmp(comm, "postgres", 8) == 0 ? (pid_t)pid : 0;
}

/* standby.signal or recovery.signal in the data directory: the server is (still) in recovery. */
static int in_recovery(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/standby.signal", data_dir);
  if (access(path, F_OK) == 0) return 1;
  snprintf(path, sizeof path, "%s/recovery.signal", data_dir);
  return access(path, F_OK) == 0;
}

static int alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

/* SIGKILL of every process whose parent is `parent` (the postmaster's backends). */
static void kill_children(pid_t parent) {
  DIR *proc = opendir("/proc");
  if (proc == NULL) return;
  struct dirent *entry;
  while ((entry = readdir(proc)) != NULL) {
    char path[PATH_MAX];
    char line[1024];
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    if (got == NULL) continue;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'. */
    char *close_paren = strrchr(line, ')');
    long ppid = 0;
    if (close_paren == NULL || sscanf(close_paren + 2, "%*c %ld", &ppid) != 1) continue;
    if (ppid == parent) kill((pid_t)atol(entry->d_name), SIGKILL);
  }
  closedir(proc);
}

static int overdue_logged = 0;

/* Every connected client hears of a stop at once (a frozen agent reads it once resumed). */
static void tell_stops(void) {
  char event[64];
  int n = snprintf(event, sizeof event, "event fenced %lu %d\n", stops, (int)getpid());
  if (n <= 0 || (size_t)n >= sizeof event) return;
  for (int i = 0; i < MAX_CLIENTS; i++) {
    if (clients[i].fd < 0) continue;
    ssize_t ignored = send(clients[i].fd, event, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  }
}

/* The deadline has passed: stop a primary now; a replica is only watched (returns 0 then). */
static int fire(void) {
  pid_t pid = postmaster_pid();
  if (pid != 0 && in_recovery()) {
    if (!overdue_logged) logf_("deadline passed unfed, but PostgreSQL is in recovery (a replica acknowledges no commit): watching it");
    overdue_logged = 1;
    return 0;
  }
  state = FIRED;
  if (pid == 0) {
    logf_("deadline passed unfed; no postmaster runs in %s: nothing to stop", data_dir);
    return 1;
  }
  logf_("deadline passed unfed (the agent did not confirm its leader lease): stopping the postmaster %d (immediate shutdown)", (int)pid);
  kill(pid, SIGQUIT);
  stops++;
  tell_stops();
  int64_t until = clock_ns(CLOCK_BOOTTIME) + (int64_t)QUIT_GRACE_MS * 1000000LL;
  while (alive(pid) && clock_ns(CLOCK_BOOTTIME) < until) usleep(20000);
  if (alive(pid)) {
    logf_("postmaster %d still runs %d ms after SIGQUIT: killing it and its children", (int)pid, QUIT_GRACE_MS);
    kill(pid, SIGSTOP); /* no new backend while the children are killed */
    kill_children(pid);
    kill(pid, SIGKILL);
  } else {
    logf_("postmaster %d stopped", (int)pid);
  }
  return 1;
}

static void reply(struct client *c, const char *fmt, ...) {
  char line[LINE_MAX_LEN];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t ignored = send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
}

static int64_t remaining_ms(void) {
  if (state != ARMED) return -1;
  int64_t left = deadline_boot_ns - clock_ns(CLOCK_BOOTTIME);
  return left < 0 ? 0 : left / 1000000LL;
}

/* Programs the watchdog timeout (whole seconds, rounded down by the caller) and pings. */
static int watchdog_program(int timeout_s, char *why, size_t why_len) {
  int t = timeout_s;
  if (ioctl(watchdog_fd, WDIOC_SETTIMEOUT, &t) != 0) {
    snprintf(why, why_len, "cannot set the timeout: %s", strerror(errno));
    return -1;
  }
  if (t > timeout_s) {
    snprintf(why, why_len, "the device accepted %d s instead of %d s", t, timeout_s);
    return -1;
  }
  int dummy = 0;
  if (ioctl(watchdog_fd, WDIOC_KEEPALIVE, &dummy) != 0) {
    snprintf(why, why_len, "keepalive failed: %s", strerror(errno));
    return -1;
  }
  return t;
}

static void watchdog_close(void) {
  if (watchdog_fd < 0) return;
  ssize_t ignored = write(watchdog_fd, "V", 1); /* magic close: stop the timer, no reset */
  (void)ignored;
  close(watchdog_fd);
  watchdog_fd = -1;
}

static int handle(struct client *c, char *line) {
  char word[32] = "";
  char arg[PATH_MAX] = "";
  long long number = 0;
  int fields = sscanf(line, "%31s %4095s %lld", word, arg, &number);
  if (fields < 1) return 0;
  if (strcmp(word, "arm") == 0) {
    long long deadline_mono = 0;
    if (sscanf(line, "%*s %lld", &deadline_mono) != 1) {
      reply(c, "error arm needs a deadline in ns (CLOCK_MONOTONIC)");
      return 0;
    }
    deadline_boot_ns = deadline_mono - clock_ns(CLOCK_MONOTONIC) + clock_ns(CLOCK_BOOTTIME);
    if (deadline_fd >= 0) {
      /* An instant already passed would read as "disarm" (0): the earliest instant instead. */
      int64_t at = deadline_boot_ns > 0 ? deadline_boot_ns : 1;
      struct itimerspec when = {.it_value = {.tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL}};
      if (timerfd_settime(deadline_fd, TFD_TIMER_ABSTIME, &when, NULL) != 0) {
        close(deadline_fd);
        deadline_fd = -1;
      }
    }
    if (state != ARMED) logf_("armed: the agent may acknowledge commits until its deadline");
    state = ARMED;
    overdue_logged = 0;
    if (remaining_ms() == 0) fire();
    reply(c, "%s %lld", state == ARMED ? "armed" : "fired", (long long)remaining_ms());
  } else if (strcmp(word, "disarm") == 0) {
    if (state == ARMED) logf_("disarmed");
    state = DISARMED;
    reply(c, "disarmed");
  } else if (strcmp(word, "status") == 0) {
    reply(c, "%s %lld %d %lu", state == ARMED ? "armed" : state == FIRED ? "fired" : "disarmed", (long long)remaining_ms(), (int)getpid(), stops);
  } else if (strcmp(word, "wd-open") == 0 && fields == 3) {
    char why[256] = "";
    watchdog_close();
    watchdog_fd = open(arg, O_WRONLY | O_CLOEXEC);
    if (watchdog_fd < 0) {
      reply(c, "wd error cannot open %s: %s", arg, strerror(errno));
      return 0;
    }
    int t = watchdog_program((int)number, why, sizeof why);
    if (t < 0) {
      watchdog_close();
      reply(c, "wd error %s", why);
    } else {
      logf_("watchdog %s armed, timeout %d s", arg, t);
      reply(c, "wd ok %d", t);
    }
  } else if (strcmp(word, "wd-ping") == 0 && fields >= 2) {
    char why[256] = "";
    long long timeout_s = 0;
    sscanf(line, "%*s %lld", &timeout_s);
    if (watchdog_fd < 0) {
      reply(c, "wd error not open");
      return 0;
    }
    int t = watchdog_program((int)timeout_s, why, sizeof why);
    if (t < 0)
      reply(c, "wd error %s", why);
    else
      reply(c, "wd ok %d", t);
  } else if (strcmp(word, "wd-close") == 0) {
    watchdog_close();
    reply(c, "wd closed");
  } else if (strcmp(word, "probe") == 0) {
    char why[256] = "";
    int was_running = probe_running();
    if (probe_configure(line + 5, why, sizeof why) != 0) {
      reply(c, "error %s", why);
      return 0;
    }
    if (!was_running) logf_("isolation probe started");
    probe_owner_fd = c->fd;
    reply(c, "probe on");
  } else if (strcmp(word, "probe-stop") == 0) {
    if (probe_running()) logf_("isolation probe stopped");
    probe_stop();
    probe_owner_fd = -1;
    reply(c, "probe off");
  } else if (strcmp(word, "quit") == 0) {
    state = DISARMED;
    probe_stop();
    probe_owner_fd = -1;
    watchdog_close();
    reply(c, "bye");
    return 1;
  } else {
    reply(c, "error unknown request: %s", word);
  }
  return 0;
}

/* A probe round worth the agent's attention: an unsolicited line, told from answers by "event ". */
static void probe_report(const char *line) {
  if (probe_owner_fd < 0) return;
  char event[160];
  int n = snprintf(event, sizeof event, "event %s\n", line);
  if (n <= 0 || (size_t)n >= sizeof event) return;
  ssize_t ignored = send(probe_owner_fd, event, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
}

static int peer_allowed(int fd) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return 0;
  return cred.uid == 0 || cred.uid == getuid();
}

int main(int argc, char **argv) {
  const char *socket_name = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--socket") == 0) socket_name = argv[i + 1];
    else if (strcmp(argv[i], "--data-dir") == 0) data_dir = argv[i + 1];
  }
  if (socket_name == NULL || data_dir == NULL || strlen(socket_name) >= sizeof(((struct sockaddr_un *)0)->sun_path) - 1) {
    fprintf(stderr, "usage: keel-fence --socket NAME --data-dir DIR (NAME under 107 bytes)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN); /* the agent's terminal Ctrl-C: the agent stops us with "quit" */
  fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);

  /*
   * Abstract namespace: sun_path[0] = '\0', no file to clean up, one name per data directory.
   * The name is bound twice: with its exact length, and padded with NULs to the whole sun_path,
   * which is how Node 20 (libuv) addresses abstract sockets; clients of either kind find us.
   */
  int listeners[2];
  for (int k = 0; k < 2; k++) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, socket_name, strlen(socket_name));
    socklen_t addr_len = k == 0 ? (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(socket_name)) : (socklen_t)sizeof addr;
    listeners[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(listeners[k], (struct sockaddr *)&addr, addr_len) != 0) {
      /* Another keel-fence already guards this data directory: the agent talks to that one. */
      fprintf(stderr, "keel-fence: socket @%s: %s\n", socket_name, strerror(errno));
      return errno == EADDRINUSE ? 3 : 1;
    }
    listen(listeners[k], MAX_CLIENTS);
  }
  for (int i = 0; i < MAX_CLIENTS; i++) clients[i].fd = -1;
  deadline_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  probe_watch_wal(data_dir);
  logf_("started (pid %d), guarding %s", (int)getpid(), data_dir);

  int64_t idle_since = clock_ns(CLOCK_BOOTTIME);
  for (;;) {
    struct pollfd fds[MAX_CLIENTS + 3 + PROBE_MAX_FDS];
    int n = 0;
    for (int k = 0; k < 2; k++) {
      fds[n].fd = listeners[k];
      fds[n++].events = POLLIN;
    }
    int timer_at = -1;
    if (state == ARMED && deadline_fd >= 0) {
      timer_at = n;
      fds[n].fd = deadline_fd;
      fds[n].revents = 0;
      fds[n++].events = POLLIN;
    }
    int clients_start = n;
    int connected = 0;
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (clients[i].fd < 0) continue;
      connected++;
      fds[n].fd = clients[i].fd;
      fds[n++].events = POLLIN;
    }
    int clients_end = n;
    n += probe_pollfds(fds + n);
    int64_t now = clock_ns(CLOCK_BOOTTIME);
    int timeout_ms = 1000;
    if (state == ARMED) {
      int64_t left = (deadline_boot_ns - now + 999999) / 1000000LL;
      /* With the timer, poll waits for it (or anything else); without, a second at most. */
      int64_t cut = timer_at >= 0 ? 60000 : 1000;
      timeout_ms = left <= 0 ? OVERDUE_POLL_MS : left < cut ? (int)left : (int)cut;
    }
    int probe_ms = probe_timeout_ms(clock_ns(CLOCK_MONOTONIC));
    if (probe_ms >= 0 && probe_ms < timeout_ms) timeout_ms = probe_ms;
    /* An open watchdog keeps it too: an agent gone while leading must leave the device counting
       down (its magic close would stop it), and a restarted agent finds it still open here. */
    if (connected > 0 || state == ARMED || watchdog_fd >= 0) idle_since = now;
    if (state != ARMED && connected == 0 && now - idle_since >= (int64_t)IDLE_EXIT_S * 1000000000LL) {
      logf_("neither armed nor connected for %d s: exiting", IDLE_EXIT_S);
      watchdog_close();
      return 0;
    }
    int ready = poll(fds, (nfds_t)n, timeout_ms);
    if (timer_at >= 0 && (fds[timer_at].revents & POLLIN)) {
      uint64_t expirations;
      ssize_t ignored = read(deadline_fd, &expirations, sizeof expirations); /* readable until read */
      (void)ignored;
    }
    if (state == ARMED && clock_ns(CLOCK_BOOTTIME) >= deadline_boot_ns) fire();
    /* The probe first: requests handled below may replace it, closing the descriptors it polled. */
    probe_step(fds + clients_end, n - clients_end, clock_ns(CLOCK_MONOTONIC), probe_report);
    if (ready <= 0) continue;
    for (int k = 0; k < 2; k++) {
      if (!(fds[k].revents & POLLIN)) continue;
      int fd = accept4(listeners[k], NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0) {
        int slot = -1;
        for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
          if (clients[i].fd < 0) slot = i;
        if (slot < 0 || !peer_allowed(fd)) {
          close(fd);
        } else {
          clients[slot].fd = fd;
          clients[slot].len = 0;
        }
      }
    }
    for (int k = clients_start; k < clients_end; k++) {
      if (fds[k].revents == 0) continue;
      struct client *c = NULL;
      for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd == fds[k].fd) c = &clients[i];
      if (c == NULL) continue;
      ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, MSG_DONTWAIT);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (c->fd == probe_owner_fd) {
          /* Nobody left to report to: the agent that started it is gone. */
          logf_("isolation probe stopped: its agent disconnected");
          probe_stop();
          probe_owner_fd = -1;
        }
        close(c->fd);
        c->fd = -1;
        continue;
      }
      c->len += (size_t)got;
      c->buf[c->len] = '\0';
      char *start = c->buf;
      char *newline;
      while ((newline = strchr(start, '\n')) != NULL) {
        *newline = '\0';
        if (handle(c, start)) return 0;
        start = newline + 1;
      }
      size_t rest = c->len - (size_t)(start - c->buf);
      memmove(c->buf, start, rest);
      c->len = rest;
      if (c->len >= sizeof c->buf - 1) c->len = 0; /* an over-long line: drop it */
    }
  }
}
