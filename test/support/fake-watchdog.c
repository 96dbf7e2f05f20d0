/*
 * A stand-in for a kernel watchdog, for tests on machines without /dev/watchdog or softdog
 * (containers, most VMs): preloaded into keel-fence (LD_PRELOAD), it answers the watchdog
 * ioctls on any file whose name ends in "fake-watchdog", as a watchdog driver would, and
 * appends what it was asked to that file, one line each:
 *   "T<s>"  WDIOC_SETTIMEOUT: the timeout granted, as asked unless $FAKE_WATCHDOG_MIN_S is more
 *           (a device whose shortest timeout is longer than asked)
 *   "K"     WDIOC_KEEPALIVE
 * keel-fence's own write of the magic character shows as "V". Every other ioctl, and these on
 * any other file, go to the real ioctl (so a plain file still refuses them: ENOTTY).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/watchdog.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int is_fake(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  const char *suffix = "fake-watchdog";
  size_t len = strlen(suffix);
  return (size_t)n >= len && strcmp(target + n - len, suffix) == 0;
}

static void record(int fd, const char *line) {
  ssize_t ignored = write(fd, line, strlen(line));
  (void)ignored;
}

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (is_fake(fd) && request == WDIOC_SETTIMEOUT) {
    int *timeout = arg;
    const char *min = getenv("FAKE_WATCHDOG_MIN_S");
    if (min != NULL && *timeout < atoi(min)) *timeout = atoi(min);
    char line[32];
    snprintf(line, sizeof line, "T%d\n", *timeout);
    record(fd, line);
    return 0;
  }
  if (is_fake(fd) && request == WDIOC_KEEPALIVE) {
    record(fd, "K\n");
    return 0;
  }
  int (*real)(int, unsigned long, void *) = (int (*)(int, unsigned long, void *))dlsym(RTLD_NEXT, "ioctl");
  return real(fd, request, arg);
}
