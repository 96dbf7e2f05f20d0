/*
 * keel-wal-get: the fast path of restore_command.
 *
 * PostgreSQL runs restore_command once per WAL file it replays, one after the other, and recovery
 * waits on each. `keel backup archive-get` is a Node.js program: starting one costs 75 ms on the
 * machines we measure and about 160 ms with its work, so a point-in-time recovery of five
 * segments spent a second in start-ups alone, where pgBackRest (C) spends a few milliseconds.
 *
 * So restore_command names this small program first:
 *
 *   keel-wal-get SOCKET-NAME %f "%p" NODE KEEL-MAIN backup archive-get %f "%p" --stanza=... ...
 *
 * It asks a running archive-get server (src/backup/archive-get-server.ts, a Node process that
 * keeps the repository open and exits when idle) over a unix socket to fetch the file, and exits
 * 0 when the server found it, 1 when the server says the archive does not have it. In every other
 * case it runs the command after its third argument (the plain archive-get) in its place (execv),
 * so nothing is ever lost to this path: no server yet, a server that fails or answers something
 * unexpected, a socket directory that is not this user's own.
 *
 * When there is no server, it tells the Node command where the socket belongs
 * (KEEL_WAL_GET_SOCKET), and that command starts a server there for the calls that follow.
 *
 * The socket is $TMPDIR (or /tmp)/keel-wal-get-<uid>/<name>-<environment>.sock. This program
 * trusts it only in a real directory owned by the effective user and closed to everyone else, and
 * only if the process answering runs as that same user (SO_PEERCRED): otherwise another local
 * user could answer in the server's place. <environment> is a hash (64-bit FNV-1a) of this
 * process's PGBACKREST_* variables, sorted, each "NAME=VALUE" followed by a NUL byte: they change
 * what archive-get reads (repository, passphrase), so callers with different ones never share a
 * server, whose own options come from the environment it was started with.
 *
 * Before running the plain command it closes every inherited descriptor past stderr (PostgreSQL's
 * own would otherwise live on in the server that command starts). A server that does not answer
 * within REPLY_TIMEOUT_MS is given up for the plain command; the server puts nothing in place for
 * a client that has gone.
 *
 * Protocol: one request line "get\t<WAL name>\t<absolute destination>\t<working directory>\n";
 * the reply is a status line ("found" or "missing"), then the log lines to print, then EOF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX 65536
#define REPLY_TIMEOUT_MS 120000
/* Exit status for a usage error: 126 and above make PostgreSQL stop rather than take "missing". */
#define EXIT_USAGE 127

extern char **environ;

static void close_inherited(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = 3; fd < max; fd++) close(fd);
}

/* Runs the plain archive-get instead; with `socket_path`, asks it to start a server there. */
__attribute__((noreturn)) static void fallback(char **program, const char *socket_path) {
  if (socket_path != NULL)
    setenv("KEEL_WAL_GET_SOCKET", socket_path, 1);
  else
    unsetenv("KEEL_WAL_GET_SOCKET");
  signal(SIGPIPE, SIG_DFL);
  close_inherited();
  execv(program[0], program);
  fprintf(stderr, "keel-wal-get: cannot run %s: %s\n", program[0], strerror(errno));
  _exit(127);
}

/* A name is the server's identity (a hash of the archive-get command): letters and digits only. */
static int valid_name(const char *name) {
  size_t length = strlen(name);
  if (length == 0 || length > 64) return 0;
  for (const char *c = name; *c != '\0'; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) return 0;
  return 1;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FNV-1a 64 of the sorted PGBACKREST_* entries of the environment, each followed by a NUL byte. */
static uint64_t environment_hash(void) {
  size_t count = 0;
  for (char **entry = environ; *entry != NULL; entry++)
    if (strncmp(*entry, "PGBACKREST_", 11) == 0) count++;
  const char **chosen = calloc(count + 1, sizeof *chosen);
  uint64_t hash = 14695981039346656037ULL;
  if (chosen == NULL) return 0; /* no server will match it: the plain command runs */
  size_t n = 0;
  for (char **entry = environ; *entry != NULL; entry++)
    if (strncmp(*entry, "PGBACKREST_", 11) == 0) chosen[n++] = *entry;
  qsort(chosen, n, sizeof *chosen, compare_strings);
  for (size_t i = 0; i < n; i++) {
    for (const unsigned char *c = (const unsigned char *)chosen[i];; c++) {
      hash ^= *c;
      hash *= 1099511628211ULL;
      if (*c == '\0') break;
    }
  }
  free(chosen);
  return hash;
}

static long long now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * Fields travel tab-separated on one line, read as UTF-8 by the server: a tab, a newline or a byte
 * outside ASCII (a path in another encoding) goes to the plain command instead.
 */
static int plain_field(const char *text) {
  for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++)
    if (*c == '\t' || *c == '\n' || *c >= 0x80) return 0;
  return 1;
}

static int send_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += sent;
    length -= (size_t)sent;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: keel-wal-get SOCKET-NAME WAL-NAME DESTINATION PROGRAM [ARGUMENT...]\n");
    return EXIT_USAGE;
  }
  /* a closed stdout must not kill this process before it exits with the server's verdict */
  signal(SIGPIPE, SIG_IGN);
  const char *name = argv[1];
  const char *wal = argv[2];
  const char *destination = argv[3];
  char **program = argv + 4;
  if (!valid_name(name)) fallback(program, NULL);

  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || tmp[0] != '/') tmp = "/tmp";
  char dir[PATH_MAX];
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (snprintf(dir, sizeof dir, "%s/keel-wal-get-%u", tmp, (unsigned)geteuid()) >= (int)sizeof dir) fallback(program, NULL);
  if (snprintf(address.sun_path, sizeof address.sun_path, "%s/%s-%016llx.sock", dir, name, (unsigned long long)environment_hash()) >=
      (int)sizeof address.sun_path)
    fallback(program, NULL);

  struct stat info;
  if (lstat(dir, &info) != 0) fallback(program, address.sun_path);
  if (!S_ISDIR(info.st_mode) || info.st_uid != geteuid() || (info.st_mode & 077) != 0) fallback(program, NULL);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fallback(program, NULL);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    close(fd);
    fallback(program, address.sun_path);
  }
  struct ucred peer;
  socklen_t peer_length = sizeof peer;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0 || peer.uid != geteuid()) fallback(program, NULL);

  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) fallback(program, NULL);
  char target[PATH_MAX];
  if (destination[0] == '/') {
    if (snprintf(target, sizeof target, "%s", destination) >= (int)sizeof target) fallback(program, NULL);
  } else if (snprintf(target, sizeof target, "%s/%s", cwd, destination) >= (int)sizeof target) {
    fallback(program, NULL);
  }
  if (!plain_field(wal) || !plain_field(target) || !plain_field(cwd)) fallback(program, NULL);

  size_t request_max = strlen(wal) + strlen(target) + strlen(cwd) + 16;
  char *request = malloc(request_max);
  if (request == NULL) fallback(program, NULL);
  int request_length = snprintf(request, request_max, "get\t%s\t%s\t%s\n", wal, target, cwd);
  if (request_length < 0 || send_all(fd, request, (size_t)request_length) != 0) fallback(program, NULL);
  free(request);

  static char reply[REPLY_MAX + 1];
  size_t have = 0;
  long long deadline = now_ms() + REPLY_TIMEOUT_MS;
  for (;;) {
    if (have == REPLY_MAX) fallback(program, NULL);
    struct pollfd readable = {.fd = fd, .events = POLLIN};
    long long left = deadline - now_ms();
    if (left <= 0) fallback(program, NULL);
    int ready = poll(&readable, 1, (int)left);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) fallback(program, NULL);
    ssize_t got = recv(fd, reply + have, REPLY_MAX - have, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fallback(program, NULL);
    if (got == 0) break;
    have += (size_t)got;
  }
  close(fd);
  reply[have] = '\0';
  char *end = memchr(reply, '\n', have);
  if (end == NULL) fallback(program, NULL);
  *end = '\0';
  int code;
  if (strcmp(reply, "found") == 0)
    code = 0;
  else if (strcmp(reply, "missing") == 0)
    code = 1;
  else
    fallback(program, NULL);
  /* the server's log lines, where the Node command would have printed them */
  const char *log = end + 1;
  size_t log_length = have - (size_t)(log - reply);
  while (log_length > 0) {
    ssize_t written = write(STDOUT_FILENO, log, log_length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) break;
    log += written;
    log_length -= (size_t)written;
  }
  return code;
}
