/* Sleeping and polling: nanosleep/clock_nanosleep/poll/select really wait
   (measured with CLOCK_MONOTONIC; only "waited at least N ms" is printed),
   and poll/select report stdin, stdout and a file as ready. Uses a scratch
   file in its directory (argv[1], default /sandbox) if it can open one. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/select.h>
#include <time.h>
#include "wasitest.h"

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* "waited >= ms" and a generous upper bound, so a hang is reported too. */
static void waited(const char *label, long r, int e, int64_t start, int ms) {
    int64_t d = now_ns() - start;
    if (r < 0) printf("%s: %s\n", label, errname(e));
    else printf("%s: %ld, waited >= %dms: %d, < 5s: %d\n", label, r, ms, d >= (int64_t)ms * 1000000,
                d < 5000000000LL);
}

#define WAIT(label, ms, expr) \
    do { int64_t s_ = now_ns(); errno = 0; long r_ = (long)(expr); waited(label, r_, errno, s_, ms); } while (0)

static const char *events(short ev) {
    static char buf[64];
    snprintf(buf, sizeof buf, "%s%s%s%s%s", ev & POLLIN ? " in" : "", ev & POLLOUT ? " out" : "",
             ev & POLLERR ? " err" : "", ev & POLLHUP ? " hup" : "", ev & POLLNVAL ? " nval" : "");
    return buf[0] ? buf + 1 : "none";
}

static void show_poll(const char *label, struct pollfd *p, int n, int timeout) {
    errno = 0;
    int r = poll(p, n, timeout);
    if (r < 0) { printf("%s: %s\n", label, errname(errno)); return; }
    printf("%s: %d [", label, r);
    for (int i = 0; i < n; i++) printf("%s%s", i ? ", " : "", events(p[i].revents));
    printf("]\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct timespec ts = {0, 50 * 1000000}, rem;
    WAIT("nanosleep 50ms", 50, nanosleep(&ts, &rem));
    struct timespec zero = {0, 0};
    WAIT("nanosleep 0", 0, nanosleep(&zero, NULL));
    struct timespec bad = {0, 1000000000};
    CHECK("nanosleep nsec 1e9", nanosleep(&bad, NULL));
    struct timespec neg = {-1, 0};
    CHECK("nanosleep negative", nanosleep(&neg, NULL));
    WAIT("usleep 20ms", 20, usleep(20000));
    struct timespec rel = {0, 30 * 1000000};
    WAIT("clock_nanosleep monotonic 30ms", 30, -clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL));
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 40 * 1000000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    WAIT("clock_nanosleep realtime abstime +40ms", 40,
         -clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL));
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec -= 10;
    WAIT("clock_nanosleep abstime in the past", 0,
         -clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL));
    WAIT("poll no fds 50ms", 50, poll(NULL, 0, 50));
    WAIT("poll no fds 0ms", 0, poll(NULL, 0, 0));
    struct timeval tv = {0, 30000};
    WAIT("select no fds 30ms", 30, select(0, NULL, NULL, NULL, &tv));
    CHECK("sched_yield", sched_yield());

    struct pollfd in = {0, POLLIN, 0};
    show_poll("poll stdin in", &in, 1, 1000);
    struct pollfd out[2] = {{1, POLLOUT, 0}, {2, POLLOUT, 0}};
    show_poll("poll stdout+stderr out", out, 2, 1000);
    struct pollfd both[2] = {{0, POLLIN, 0}, {1, POLLOUT, 0}};
    show_poll("poll stdin in + stdout out", both, 2, -1);
    struct pollfd none = {1, 0, 0};
    int64_t s = now_ns();
    show_poll("poll stdout no events 30ms", &none, 1, 30);
    printf("  waited >= 30ms: %d\n", now_ns() - s >= 30000000);
    struct pollfd badfd = {99, POLLIN, 0};
    show_poll("poll fd 99", &badfd, 1, 0);
    struct pollfd neg_fd[2] = {{-1, POLLIN, 0}, {1, POLLOUT, 0}};
    show_poll("poll fd -1 + stdout", neg_fd, 2, 0);

    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(0, &r);
    FD_SET(1, &w);
    struct timeval second = {1, 0};
    errno = 0;
    int n = select(2, &r, &w, NULL, &second);
    printf("select stdin/stdout: %d%s read0 %d write1 %d\n", n, n < 0 ? errname(errno) : "",
           FD_ISSET(0, &r), FD_ISSET(1, &w));

    const char *dir = argc > 1 ? argv[1] : "/sandbox";
    if (chdir(dir) == 0) {
        int fd = open("scratch", O_CREAT | O_RDWR | O_TRUNC, 0644);
        write(fd, "abc", 3);
        struct pollfd f = {fd, POLLIN, 0};
        show_poll("poll file in", &f, 1, 1000);
        f.events = POLLOUT;
        show_poll("poll file out", &f, 1, 1000);
        /* Both at once: wasmtime 50 reports only one of the two events for
           the same descriptor, so only "something is ready" is printed. */
        f.events = POLLIN | POLLOUT;
        errno = 0;
        int n = poll(&f, 1, 1000);
        printf("poll file in|out: %d%s ready %d\n", n, n < 0 ? errname(errno) : "", (f.revents & (POLLIN | POLLOUT)) != 0);
        close(fd);
        unlink("scratch");
    }
    char c;
    long got = read(0, &c, 1);
    printf("stdin read after polls: %ld\n", got);
    printf("done\n");
    return 0;
}
