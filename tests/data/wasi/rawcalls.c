/* Raw wasi_snapshot_preview1 calls, printed one per line with their errno
 * and results, for comparison with wasmtime byte for byte.
 *
 * Expects preopens: fd 3 = a read-write directory holding file "f"
 * ("hello world\n"), directory "d" (with file "d/g"), symlinks "l" -> "f"
 * and "dl" -> "d"; fd 4 = a read-only directory holding file "ro".
 * Inode numbers, devices and times are not printed (they differ by host).
 */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static const __wasi_rights_t ALL = ((__wasi_rights_t)1 << 29) - 1; /* every defined right */
static const __wasi_rights_t DIRRIGHTS = 0x7b7fe00; /* a directory's rights */
#define R(call) report(#call, (call))

static int report(const char *what, __wasi_errno_t e) {
    printf("%s = %d\n", what, e);
    return e;
}

static void fdstat(__wasi_fd_t fd) {
    __wasi_fdstat_t st;
    memset(&st, 0xee, sizeof st);
    __wasi_errno_t e = __wasi_fd_fdstat_get(fd, &st);
    printf("fdstat(%u) = %d", fd, e);
    if (!e)
        printf(" type=%u flags=%u base=%llx inh=%llx", st.fs_filetype, st.fs_flags,
               (unsigned long long)st.fs_rights_base,
               (unsigned long long)st.fs_rights_inheriting);
    printf("\n");
}

static void filestat_print(const char *what, __wasi_errno_t e, __wasi_filestat_t *st) {
    printf("%s = %d", what, e);
    if (!e)
        printf(" type=%u nlink=%llu size=%llu", st->filetype,
               (unsigned long long)st->nlink, (unsigned long long)st->size);
    printf("\n");
}

static void pathstat(__wasi_fd_t dir, int follow, const char *p) {
    __wasi_filestat_t st;
    char what[200];
    snprintf(what, sizeof what, "path_filestat_get(%u,%d,%s)", dir, follow, p);
    filestat_print(what, __wasi_path_filestat_get(dir, follow, p, &st), &st);
}

static __wasi_fd_t open_(__wasi_fd_t dir, int follow, const char *p, int oflags,
                         __wasi_rights_t base, int fdflags) {
    __wasi_fd_t fd = 0;
    __wasi_errno_t e = __wasi_path_open(dir, follow, p, oflags, base, ALL, fdflags, &fd);
    printf("path_open(%u,%d,%s,o=%d,b=%llx,f=%d) = %d", dir, follow, p, oflags,
           (unsigned long long)base, fdflags, e);
    if (!e)
        printf(" fd=%u", fd);
    printf("\n");
    return e ? (__wasi_fd_t)-1 : fd;
}

static void readdir_all(__wasi_fd_t fd, size_t bufsize) {
    unsigned char buf[4096];
    __wasi_dircookie_t cookie = 0;
    int rounds = 0;
    printf("readdir(%u, buf=%zu):", fd, bufsize);
    while (rounds++ < 100) {
        unsigned long used = 0;
        __wasi_errno_t e = __wasi_fd_readdir(fd, buf, bufsize, cookie, &used);
        if (e) {
            printf(" err=%d", e);
            break;
        }
        size_t pos = 0;
        int progressed = 0;
        while (pos + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t d;
            memcpy(&d, buf + pos, sizeof d);
            pos += sizeof d;
            if (pos + d.d_namlen > used)
                break; /* name truncated: retry from d_next of the previous */
            printf(" %.*s/%u", (int)d.d_namlen, buf + pos, d.d_type);
            pos += d.d_namlen;
            cookie = d.d_next;
            progressed = 1;
        }
        if (used < bufsize)
            break;
        if (!progressed) {
            printf(" (buffer too small)");
            break;
        }
    }
    printf("\n");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char name[64];
    __wasi_prestat_t ps;
    for (__wasi_fd_t fd = 0; fd < 6; fd++) {
        __wasi_errno_t e = __wasi_fd_prestat_get(fd, &ps);
        printf("prestat(%u) = %d", fd, e);
        if (!e) {
            memset(name, 0, sizeof name);
            e = __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, ps.u.dir.pr_name_len);
            printf(" tag=%u len=%zu name=%d:%s", ps.tag, (size_t)ps.u.dir.pr_name_len, e, name);
            printf(" short=%d", __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, 1));
        }
        printf("\n");
    }
    for (__wasi_fd_t fd = 0; fd < 6; fd++)
        fdstat(fd);

    /* opening files */
    __wasi_fd_t f = open_(3, 1, "f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK, 0);
    fdstat(f);
    char buf[64];
    __wasi_iovec_t iov = {(uint8_t *)buf, 5};
    __wasi_ciovec_t ciov = {(const uint8_t *)"XY", 2};
    unsigned long n = 0;
    __wasi_filesize_t pos = 0;
    R(__wasi_fd_read(f, &iov, 1, &n));
    printf("  read %lu: %.*s\n", n, (int)n, buf);
    R(__wasi_fd_tell(f, &pos));
    printf("  tell %llu\n", (unsigned long long)pos);
    R(__wasi_fd_seek(f, -2, __WASI_WHENCE_END, &pos));
    printf("  seek %llu\n", (unsigned long long)pos);
    R(__wasi_fd_seek(f, -100, __WASI_WHENCE_CUR, &pos));
    R(__wasi_fd_seek(f, 100, __WASI_WHENCE_SET, &pos));
    printf("  seek %llu\n", (unsigned long long)pos);
    R(__wasi_fd_read(f, &iov, 1, &n));
    printf("  read past end %lu\n", n);
    R(__wasi_fd_pread(f, &iov, 1, 6, &n));
    printf("  pread %lu: %.*s\n", n, (int)n, buf);
    R(__wasi_fd_write(f, &ciov, 1, &n));
    R(__wasi_fd_pwrite(f, &ciov, 1, 0, &n));
    R(__wasi_fd_filestat_set_size(f, 3));
    __wasi_filestat_t st;
    filestat_print("fd_filestat_get(f)", __wasi_fd_filestat_get(f, &st), &st);
    R(__wasi_fd_advise(f, 0, 10, __WASI_ADVICE_SEQUENTIAL));
    /* an advice outside the enum traps in wasmtime: see test_wasi_raw.py */
    R(__wasi_fd_allocate(f, 0, 100));
    R(__wasi_fd_sync(f));
    R(__wasi_fd_datasync(f));
    R(__wasi_fd_fdstat_set_rights(f, __WASI_RIGHTS_FD_READ, 0));
    fdstat(f);
    R(__wasi_fd_readdir(f, (uint8_t *)buf, sizeof buf, 0, &n));
    R(__wasi_fd_close(f));
    R(__wasi_fd_close(f));

    /* write, append, truncate, create */
    __wasi_rights_t rw = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK;
    f = open_(3, 1, "new", __WASI_OFLAGS_CREAT, rw, 0);
    fdstat(f);
    R(__wasi_fd_write(f, &ciov, 1, &n));
    R(__wasi_fd_pwrite(f, &ciov, 1, 10, &n));
    filestat_print("fd_filestat_get(new)", __wasi_fd_filestat_get(f, &st), &st);
    R(__wasi_fd_filestat_set_size(f, 1));
    R(__wasi_fd_allocate(f, 0, 100));
    filestat_print("fd_filestat_get(new)", __wasi_fd_filestat_get(f, &st), &st);
    R(__wasi_fd_fdstat_set_flags(f, __WASI_FDFLAGS_APPEND));
    fdstat(f);
    R(__wasi_fd_seek(f, 0, __WASI_WHENCE_SET, &pos));
    R(__wasi_fd_write(f, &ciov, 1, &n));
    R(__wasi_fd_tell(f, &pos));
    printf("  tell after append %llu\n", (unsigned long long)pos);
    R(__wasi_fd_fdstat_set_flags(f, __WASI_FDFLAGS_NONBLOCK));
    fdstat(f);
    R(__wasi_fd_fdstat_set_flags(f, __WASI_FDFLAGS_SYNC));
    R(__wasi_fd_fdstat_set_flags(f, 0));
    fdstat(f);
    R(__wasi_fd_close(f));
    open_(3, 1, "new", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, rw, 0);
    f = open_(3, 1, "new", __WASI_OFLAGS_TRUNC, rw, __WASI_FDFLAGS_APPEND);
    fdstat(f);
    filestat_print("fd_filestat_get(trunc)", __wasi_fd_filestat_get(f, &st), &st);
    R(__wasi_fd_close(f));
    open_(3, 1, "new", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_READ, 0);
    f = open_(3, 1, "wonly", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0);
    fdstat(f);
    R(__wasi_fd_read(f, &iov, 1, &n));
    R(__wasi_fd_close(f));
    f = open_(3, 1, "none", __WASI_OFLAGS_CREAT, 0, 0);
    fdstat(f);
    R(__wasi_fd_write(f, &ciov, 1, &n));
    R(__wasi_fd_read(f, &iov, 1, &n));
    R(__wasi_fd_close(f));
    open_(3, 1, "f", __WASI_OFLAGS_DIRECTORY, 0, 0);
    open_(3, 1, "missing/x", __WASI_OFLAGS_CREAT, rw, 0);
    open_(3, 1, "f/", 0, __WASI_RIGHTS_FD_READ, 0);
    open_(3, 1, "d", 0, rw, 0);
    open_(3, 1, "d", __WASI_OFLAGS_CREAT, 0, 0);
    open_(3, 1, "d", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_CREAT, 0, 0);
    open_(3, 1, "d", __WASI_OFLAGS_TRUNC, 0, 0);
    open_(3, 1, "d", __WASI_OFLAGS_TRUNC | __WASI_OFLAGS_DIRECTORY, 0, 0);
    open_(3, 1, "newdir", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_DIRECTORY, 0, 0);
    open_(3, 1, "f", 0, rw, __WASI_FDFLAGS_DSYNC);
    open_(3, 1, "f", 0, rw, __WASI_FDFLAGS_RSYNC);
    open_(3, 1, "f", 0, rw, __WASI_FDFLAGS_SYNC);
    f = open_(3, 1, "f", 0, rw, __WASI_FDFLAGS_NONBLOCK);
    fdstat(f);
    R(__wasi_fd_close(f));
    open_(3, 0, "l", 0, __WASI_RIGHTS_FD_READ, 0);
    f = open_(3, 1, "l", 0, __WASI_RIGHTS_FD_READ, 0);
    R(__wasi_fd_close(f));
    open_(3, 0, "l", __WASI_OFLAGS_DIRECTORY, 0, 0);
    open_(3, 0, "dl", __WASI_OFLAGS_DIRECTORY, 0, 0);
    open_(3, 0, "dl/g", 0, __WASI_RIGHTS_FD_READ, 0);

    /* directories */
    __wasi_fd_t d = open_(3, 1, "d", __WASI_OFLAGS_DIRECTORY, DIRRIGHTS, 0);
    fdstat(d);
    R(__wasi_fd_read(d, &iov, 1, &n));
    R(__wasi_fd_write(d, &ciov, 1, &n));
    R(__wasi_fd_seek(d, 0, __WASI_WHENCE_CUR, &pos));
    R(__wasi_fd_tell(d, &pos));
    R(__wasi_fd_prestat_get(d, &ps));
    filestat_print("fd_filestat_get(d)", __wasi_fd_filestat_get(d, &st), &st);
    R(__wasi_fd_filestat_set_size(d, 0));
    R(__wasi_fd_allocate(d, 0, 1));
    R(__wasi_fd_sync(d));
    R(__wasi_fd_datasync(d));
    R(__wasi_fd_advise(d, 0, 1, 0));
    R(__wasi_fd_fdstat_set_flags(d, __WASI_FDFLAGS_APPEND));
    pathstat(d, 0, "..");
    pathstat(d, 0, "g");
    readdir_all(d, sizeof buf);
    R(__wasi_fd_close(d));
    readdir_all(3, 4096);
    readdir_all(3, 40);
    readdir_all(3, 24);
    R(__wasi_fd_readdir(3, (uint8_t *)buf, sizeof buf, 1000, &n));
    printf("  readdir at 1000: used %lu\n", n);
    R(__wasi_fd_readdir(3, (uint8_t *)buf, 0, 0, &n));
    printf("  readdir 0 bytes: used %lu\n", n);

    /* path operations */
    R(__wasi_path_create_directory(3, "pd"));
    R(__wasi_path_create_directory(3, "pd"));
    R(__wasi_path_create_directory(3, "pd/"));
    R(__wasi_path_create_directory(3, "f"));
    R(__wasi_path_create_directory(3, "missing/x"));
    R(__wasi_path_create_directory(3, "."));
    R(__wasi_path_remove_directory(3, "f"));
    R(__wasi_path_remove_directory(3, "d"));
    R(__wasi_path_remove_directory(3, "nope"));
    R(__wasi_path_remove_directory(3, "."));
    R(__wasi_path_remove_directory(3, "pd/"));
    R(__wasi_path_unlink_file(3, "d"));
    R(__wasi_path_unlink_file(3, "nope"));
    R(__wasi_path_unlink_file(3, "new/"));
    R(__wasi_path_unlink_file(3, "wonly"));
    R(__wasi_path_symlink("f", 3, "s1"));
    R(__wasi_path_symlink("f", 3, "s1"));
    R(__wasi_path_symlink("/etc/passwd", 3, "sabs"));
    R(__wasi_path_symlink("../../x", 3, "sout"));
    R(__wasi_path_symlink("", 3, "sempty"));
    memset(buf, 0, sizeof buf);
    R(__wasi_path_readlink(3, "s1", (uint8_t *)buf, sizeof buf, &n));
    printf("  readlink %lu: %.*s\n", n, (int)n, buf);
    R(__wasi_path_readlink(3, "sout", (uint8_t *)buf, 3, &n));
    printf("  readlink short %lu: %.*s\n", n, (int)n, buf);
    R(__wasi_path_readlink(3, "f", (uint8_t *)buf, sizeof buf, &n));
    R(__wasi_path_readlink(3, "nope", (uint8_t *)buf, sizeof buf, &n));
    pathstat(3, 0, "s1");
    pathstat(3, 1, "s1");
    pathstat(3, 1, "sabs");
    pathstat(3, 0, "sabs");
    pathstat(3, 1, "sout");
    pathstat(3, 1, "sempty");
    pathstat(3, 1, "dl/");
    pathstat(3, 0, "dl/");
    pathstat(3, 0, "dl");
    pathstat(3, 0, ".");
    pathstat(3, 0, "f/");
    R(__wasi_path_link(3, 0, "f", 3, "hard"));
    pathstat(3, 0, "hard");
    R(__wasi_path_link(3, 0, "f", 3, "hard"));
    R(__wasi_path_link(3, 0, "d", 3, "hardd"));
    R(__wasi_path_link(3, 1, "s1", 3, "hard2"));
    R(__wasi_path_link(3, 0, "s1", 3, "hard3"));
    pathstat(3, 0, "hard3");
    R(__wasi_path_link(3, 0, "nope", 3, "hard4"));
    R(__wasi_path_rename(3, "hard", 3, "hard5"));
    R(__wasi_path_rename(3, "hard5", 3, "f"));
    R(__wasi_path_rename(3, "nope", 3, "x"));
    R(__wasi_path_rename(3, "d", 3, "f"));
    R(__wasi_path_rename(3, "f", 3, "d"));
    R(__wasi_path_create_directory(3, "e"));
    R(__wasi_path_rename(3, "e", 3, "d"));
    R(__wasi_path_rename(3, "d", 3, "d/sub"));
    R(__wasi_path_rename(3, "e", 3, "e2/"));
    R(__wasi_path_rename(3, "new", 3, "new2/"));
    R(__wasi_path_rename(3, "e2", 3, "."));

    /* times */
    R(__wasi_path_filestat_set_times(3, 0, "f", 1000000000ull, 2000000000ull,
                                     __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    R(__wasi_path_filestat_get(3, 0, "f", &st));
    printf("  atim=%llu mtim=%llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    R(__wasi_path_filestat_set_times(3, 0, "f", 5, 6, __WASI_FSTFLAGS_MTIM));
    R(__wasi_path_filestat_get(3, 0, "f", &st));
    printf("  atim=%llu mtim=%llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    R(__wasi_path_filestat_set_times(3, 0, "f", 0, 0,
                                     __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    R(__wasi_path_filestat_set_times(3, 0, "f", 0, 0,
                                     __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
    /* fstflags outside the set trap in wasmtime: see test_wasi_raw.py */
    R(__wasi_path_filestat_set_times(3, 0, "s1", 7000000000ull, 8000000000ull,
                                     __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    R(__wasi_path_filestat_get(3, 0, "s1", &st));
    printf("  s1 nofollow atim=%llu mtim=%llu\n", (unsigned long long)st.atim,
           (unsigned long long)st.mtim);
    R(__wasi_path_filestat_set_times(3, 1, "s1", 3000000000ull, 4000000000ull,
                                     __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    R(__wasi_path_filestat_get(3, 0, "f", &st));
    printf("  f atim=%llu mtim=%llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    f = open_(3, 1, "f", 0, rw, 0);
    R(__wasi_fd_filestat_set_times(f, 11000000000ull, 12000000000ull,
                                   __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    R(__wasi_fd_filestat_get(f, &st));
    printf("  fd atim=%llu mtim=%llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    R(__wasi_fd_filestat_set_times(f, 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));

    /* renumber */
    R(__wasi_fd_renumber(f, 30));
    R(__wasi_fd_renumber(f, 30));
    __wasi_fd_t g = open_(3, 1, "f", 0, __WASI_RIGHTS_FD_READ, 0);
    R(__wasi_fd_renumber(g, f));
    fdstat(f);
    fdstat(g);
    R(__wasi_fd_renumber(f, f));
    R(__wasi_fd_renumber(f, 0));
    fdstat(0);
    R(__wasi_fd_close(f));

    /* the read-only preopen */
    pathstat(4, 0, "ro");
    f = open_(4, 1, "ro", 0, __WASI_RIGHTS_FD_READ, 0);
    fdstat(f);
    R(__wasi_fd_write(f, &ciov, 1, &n));
    R(__wasi_fd_filestat_set_size(f, 0));
    R(__wasi_fd_filestat_set_times(f, 1, 1, __WASI_FSTFLAGS_ATIM));
    R(__wasi_fd_close(f));
    open_(4, 1, "ro", 0, rw, 0);
    open_(4, 1, "ro", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_READ, 0);
    open_(4, 1, "new", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_READ, 0);
    open_(4, 1, "ro", 0, __WASI_RIGHTS_FD_READ, __WASI_FDFLAGS_APPEND);
    R(__wasi_path_create_directory(4, "x"));
    R(__wasi_path_unlink_file(4, "ro"));
    R(__wasi_path_remove_directory(4, "x"));
    R(__wasi_path_symlink("ro", 4, "s"));
    R(__wasi_path_rename(4, "ro", 4, "ro2"));
    R(__wasi_path_link(4, 0, "ro", 4, "ro3"));
    R(__wasi_path_link(4, 0, "ro", 3, "ro3"));
    R(__wasi_path_rename(4, "ro", 3, "ro4"));
    R(__wasi_path_filestat_set_times(4, 0, "ro", 1, 1, __WASI_FSTFLAGS_ATIM));
    R(__wasi_path_readlink(4, "ro", (uint8_t *)buf, sizeof buf, &n));
    readdir_all(4, 4096);
    fdstat(4);

    /* poll */
    __wasi_subscription_t sub[3];
    __wasi_event_t ev[3];
    memset(sub, 0, sizeof sub);
    memset(ev, 0xee, sizeof ev);
    sub[0].userdata = 7;
    sub[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    sub[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    sub[0].u.u.clock.timeout = 1000000;
    R(__wasi_poll_oneoff(sub, ev, 1, &n));
    printf("  events %lu: ud=%llu err=%u type=%u\n", n, (unsigned long long)ev[0].userdata,
           ev[0].error, ev[0].type);
    sub[1].userdata = 8;
    sub[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
    sub[1].u.u.fd_write.file_descriptor = 1;
    sub[2].userdata = 9;
    sub[2].u.tag = __WASI_EVENTTYPE_FD_READ;
    sub[2].u.u.fd_read.file_descriptor = 99;
    memset(ev, 0xee, sizeof ev);
    R(__wasi_poll_oneoff(sub, ev, 3, &n));
    printf("  events %lu:", n);
    for (unsigned i = 0; i < n && i < 3; i++)
        printf(" ud=%llu err=%u type=%u", (unsigned long long)ev[i].userdata, ev[i].error,
               ev[i].type);
    printf("\n");
    R(__wasi_poll_oneoff(sub, ev, 0, &n));
    sub[0].u.u.clock.id = 9;
    R(__wasi_poll_oneoff(sub, ev, 1, &n));
    printf("  events %lu: err=%u\n", n, ev[0].error);
    sub[0].u.tag = 7;
    R(__wasi_poll_oneoff(sub, ev, 1, &n));

    /* closing a preopen */
    R(__wasi_fd_renumber(4, 3));
    R(__wasi_fd_prestat_get(3, &ps));
    pathstat(3, 0, "ro");
    R(__wasi_fd_close(3));
    R(__wasi_fd_prestat_get(3, &ps));
    R(__wasi_fd_close(0));
    fdstat(0);
    return 0;
}
