/* Regular files through plain POSIX calls: open flags, read/write/seek,
   pread/pwrite, append, truncate, fstat, sync, allocate/advise, fcntl and
   timestamps. Runs in its directory (argv[1], default /sandbox), which the
   host gives it empty. Prints one line per call; no fd numbers or times
   other than those it sets itself. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <wasi/api.h>
#include "wasitest.h"

static char buf[4096];

static void show_file(const char *label, int fd) {
    long n = pread(fd, buf, sizeof buf, 0);
    if (n < 0) printf("%s: pread %s\n", label, errname(errno));
    else show_bytes(label, buf, n);
}

static void show_size(const char *label, int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) printf("%s: %s\n", label, errname(errno));
    else printf("%s: size %lld reg=%d\n", label, (long long)st.st_size, S_ISREG(st.st_mode));
}

static void show_flags(const char *label, int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) { printf("%s: %s\n", label, errname(errno)); return; }
    int acc = fl & O_ACCMODE;
    printf("%s: %s%s%s\n", label,
           acc == O_RDONLY ? "rdonly" : acc == O_WRONLY ? "wronly" : acc == O_RDWR ? "rdwr" : "other",
           fl & O_APPEND ? " append" : "", fl & O_NONBLOCK ? " nonblock" : "");
}

static void basics(void) {
    int fd = CHECK("open f1 creat rdwr", open("f1", O_CREAT | O_RDWR | O_TRUNC, 0644));
    VALUE("write 10", write(fd, "0123456789", 10));
    VALUE("seek set 0", lseek(fd, 0, SEEK_SET));
    show_bytes("read 4", buf, read(fd, buf, 4));
    VALUE("seek cur +2", lseek(fd, 2, SEEK_CUR));
    show_bytes("read rest", buf, read(fd, buf, 100));
    VALUE("read at eof", read(fd, buf, 10));
    VALUE("seek end -3", lseek(fd, -3, SEEK_END));
    VALUE("seek set -1", lseek(fd, -1, SEEK_SET));
    VALUE("seek cur -100", lseek(fd, -100, SEEK_CUR));
    VALUE("seek end -11", lseek(fd, -11, SEEK_END));
    VALUE("tell after failed seeks", lseek(fd, 0, SEEK_CUR));
    VALUE("seek past end", lseek(fd, 20, SEEK_SET));
    VALUE("read past end", read(fd, buf, 10));
    VALUE("write past end", write(fd, "X", 1));
    show_size("size after hole", fd);
    long n = pread(fd, buf, 20, 8);
    show_bytes("pread 20 at 8", buf, n);
    VALUE("pwrite 2 at 2", pwrite(fd, "ab", 2, 2));
    VALUE("tell after pwrite", lseek(fd, 0, SEEK_CUR));
    VALUE("pread at 100", pread(fd, buf, 10, 100));
    VALUE("pwrite at -1", pwrite(fd, "x", 1, -1));
    VALUE("pread at -1", pread(fd, buf, 1, -1));
    VALUE("pwrite past end at 30", pwrite(fd, "Y", 1, 30));
    show_file("contents", fd);
    CHECK("ftruncate 5", ftruncate(fd, 5));
    show_file("after ftruncate 5", fd);
    VALUE("tell after ftruncate", lseek(fd, 0, SEEK_CUR));
    CHECK("ftruncate 8", ftruncate(fd, 8));
    show_file("after ftruncate 8", fd);
    CHECK("ftruncate -1", ftruncate(fd, -1));
    CHECK("fsync", fsync(fd));
    CHECK("fdatasync", fdatasync(fd));
    printf("posix_fallocate 0 100: %s\n", errname(posix_fallocate(fd, 0, 100)));
    show_size("size after fallocate", fd);
    printf("posix_fadvise sequential: %s\n", errname(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)));
    printf("posix_fadvise dontneed: %s\n", errname(posix_fadvise(fd, 0, 8, POSIX_FADV_DONTNEED)));
    show_flags("flags rdwr", fd);
    CHECK("close", close(fd));
    CHECK("close again", close(fd));
    CHECK("write closed", write(fd, "x", 1));
    struct stat st;
    CHECK("fstat closed", fstat(fd, &st));
}

/* writev/readv until done: a host may stop after any iovec (wasmtime
   moves one buffer per call), so only the totals are printed. */
static long rw_all(int fd, struct iovec *iov, int n, int write_) {
    long total = 0;
    while (n > 0) {
        long r = write_ ? writev(fd, iov, n) : readv(fd, iov, n);
        if (r <= 0) return r < 0 ? -1 : total;
        total += r;
        while (n > 0 && (size_t)r >= iov->iov_len) { r -= iov->iov_len; iov++; n--; }
        if (n > 0) { iov->iov_base = (char *)iov->iov_base + r; iov->iov_len -= r; }
    }
    return total;
}

static void vectors(void) {
    int fd = CHECK("open vec", open("vec", O_CREAT | O_RDWR, 0600));
    static char big[100000], back[100000];
    for (int i = 0; i < (int)sizeof big; i++) big[i] = (char)(i * 7 + i / 251);
    struct iovec iov[4] = {{"head:", 5}, {"", 0}, {big, sizeof big}, {":tail", 5}};
    VALUE("writev all", rw_all(fd, iov, 4, 1));
    char a[5], b[5];
    struct iovec rv[3] = {{a, 5}, {back, sizeof back}, {b, 5}};
    VALUE("seek 0", lseek(fd, 0, SEEK_SET));
    VALUE("readv all", rw_all(fd, rv, 3, 0));
    printf("readv matches: %d\n", !memcmp(a, "head:", 5) && !memcmp(b, ":tail", 5) &&
                                    !memcmp(back, big, sizeof big));
    struct iovec empty[2] = {{a, 0}, {b, 0}};
    VALUE("readv empty", readv(fd, empty, 2));
    VALUE("writev empty", writev(fd, empty, 2));
    VALUE("seek 99990", lseek(fd, 99990, SEEK_SET));
    struct iovec tail[2] = {{back, 10}, {b, 100}};
    VALUE("readv to eof", rw_all(fd, tail, 2, 0));
    show_bytes("last bytes", b, 10);
    show_size("vec size", fd);
    close(fd);
}

static void append_and_fcntl(void) {
    int fd = open("ap", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    write(fd, "base", 4);
    close(fd);
    fd = CHECK("open ap append", open("ap", O_WRONLY | O_APPEND));
    show_flags("flags append", fd);
    VALUE("seek 0", lseek(fd, 0, SEEK_SET));
    VALUE("append write", write(fd, "END", 3));
    VALUE("tell after append", lseek(fd, 0, SEEK_CUR));
    VALUE("pwrite at 0 on append fd", pwrite(fd, "P", 1, 0));
    close(fd);
    fd = open("ap", O_RDWR);
    show_file("ap contents", fd);
    show_flags("flags plain", fd);
    CHECK("setfl append", fcntl(fd, F_SETFL, O_APPEND));
    show_flags("flags after setfl append", fd);
    VALUE("seek 0", lseek(fd, 0, SEEK_SET));
    VALUE("write with append set", write(fd, "Z", 1));
    CHECK("setfl 0", fcntl(fd, F_SETFL, 0));
    show_flags("flags after setfl 0", fd);
    VALUE("seek 0", lseek(fd, 0, SEEK_SET));
    VALUE("write at 0", write(fd, "A", 1));
    CHECK("setfl nonblock", fcntl(fd, F_SETFL, O_NONBLOCK));
    show_flags("flags after setfl nonblock", fd);
    CHECK("setfl 0 again", fcntl(fd, F_SETFL, 0));
    show_file("ap final", fd);
    VALUE("getfd", fcntl(fd, F_GETFD));
    close(fd);
    fd = open("ap", O_RDONLY);
    show_flags("flags rdonly", fd);
    CHECK("write on rdonly", write(fd, "x", 1));
    CHECK("ftruncate on rdonly", ftruncate(fd, 0));
    close(fd);
    fd = open("ap", O_WRONLY);
    show_flags("flags wronly", fd);
    CHECK("read on wronly", read(fd, buf, 1));
    close(fd);
}

static void open_flags(void) {
    int fd = CHECK("open trunc", open("ap", O_RDWR | O_TRUNC));
    show_size("size after trunc", fd);
    close(fd);
    CHECK("creat excl existing", open("ap", O_CREAT | O_EXCL | O_WRONLY, 0644));
    fd = CHECK("creat excl new", open("excl", O_CREAT | O_EXCL | O_WRONLY, 0644));
    close(fd);
    CHECK("creat in missing dir", open("nodir/f", O_CREAT | O_WRONLY, 0644));
    CHECK("open missing", open("missing", O_RDONLY));
    CHECK("open file with O_DIRECTORY", open("ap", O_RDONLY | O_DIRECTORY));
    CHECK("open file/", open("ap/", O_RDONLY));
    CHECK("open file/x", open("ap/x", O_RDONLY));
    CHECK("creat file/x", open("ap/x", O_CREAT | O_WRONLY, 0644));
    CHECK("mkdir d", mkdir("d", 0755));
    CHECK("open dir wronly", open("d", O_WRONLY));
    CHECK("open dir rdwr", open("d", O_RDWR));
    CHECK("open dir creat", open("d", O_CREAT | O_WRONLY, 0644));
    CHECK("open dir trunc", open("d", O_RDONLY | O_TRUNC));
    fd = CHECK("open dir rdonly", open("d", O_RDONLY));
    CHECK("read dir fd", read(fd, buf, 10));
    CHECK("write dir fd", write(fd, "x", 1));
    CHECK("lseek dir fd", lseek(fd, 0, SEEK_CUR));
    struct stat st;
    CHECK("fstat dir fd", fstat(fd, &st));
    printf("dir fd is dir: %d\n", S_ISDIR(st.st_mode));
    close(fd);
    fd = CHECK("open d/ with O_DIRECTORY", open("d/", O_RDONLY | O_DIRECTORY));
    close(fd);
    fd = CHECK("open . rdonly", open(".", O_RDONLY));
    close(fd);
    fd = CHECK("creat with trailing slash", open("newfile/", O_CREAT | O_WRONLY, 0644));
    CHECK("access newfile", access("newfile", F_OK));
    fd = CHECK("creat excl rdwr d/inner", open("d/inner", O_CREAT | O_EXCL | O_RDWR, 0644));
    VALUE("write inner", write(fd, "in d", 4));
    close(fd);
    CHECK("creat empty name", open("", O_CREAT | O_WRONLY, 0644));
}

/* Offsets past 4 GiB (a sparse file, truncated again), isatty, and
   fd_renumber (wasi-libc has no dup2; the WASI call is used directly). */
static void big_offsets_and_renumber(void) {
    int fd = open("sparse", O_CREAT | O_RDWR | O_TRUNC, 0644);
    VALUE("seek 5e9", lseek(fd, 5000000000LL, SEEK_SET));
    VALUE("write at 5e9", write(fd, "Z", 1));
    show_size("sparse size", fd);
    show_bytes("pread at 5e9", buf, pread(fd, buf, 10, 5000000000LL));
    VALUE("pwrite at 2^33", pwrite(fd, "W", 1, 1LL << 33));
    VALUE("seek end", lseek(fd, 0, SEEK_END));
    CHECK("ftruncate 0", ftruncate(fd, 0));
    errno = 0;
    printf("isatty file: %d %s\n", isatty(fd), errname(errno));
    int a = open("ren-a", O_CREAT | O_RDWR | O_TRUNC, 0644), b = open("ren-b", O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(a, "AAAA", 4);
    write(b, "BBBB", 4);
    VALUE("renumber a -> b", __wasi_fd_renumber(a, b));
    show_bytes("pread b (now a)", buf, pread(b, buf, 10, 0));
    VALUE("tell b (a's position)", lseek(b, 0, SEEK_CUR));
    CHECK("write a (gone)", write(a, "x", 1));
    VALUE("renumber b -> b", __wasi_fd_renumber(b, b));
    VALUE("renumber b -> 1000 (not open)", __wasi_fd_renumber(b, 1000));
    VALUE("renumber 1000 -> b", __wasi_fd_renumber(1000, b));
    show_bytes("pread b still", buf, pread(b, buf, 10, 0));
    close(b);
    close(fd);
    unlink("sparse");
}

static void times(void) {
    struct stat st;
    int fd = open("t", O_CREAT | O_RDWR, 0644);
    write(fd, "t", 1);
    struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 500000000}};
    CHECK("utimensat explicit", utimensat(AT_FDCWD, "t", ts, 0));
    stat("t", &st);
    printf("atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec ts2[2] = {{1200000000, 1}, {1300000000, 999999999}};
    CHECK("futimens explicit", futimens(fd, ts2));
    fstat(fd, &st);
    printf("atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    /* UTIME_OMIT / UTIME_NOW through the WASI calls themselves: this
       wasi-libc (Debian 12) rejects them with EINVAL before asking the host. */
    const __wasi_timestamp_t old = 1100000000ull * 1000000000ull;
    int here = open(".", O_RDONLY | O_DIRECTORY);
    VALUE("path set_times mtim_now", __wasi_path_filestat_set_times(
              here, 0, "t", old, old, __WASI_FSTFLAGS_MTIM_NOW));
    stat("t", &st);
    printf("atime kept %d mtime changed %d\n", st.st_atim.tv_sec == 1200000000 && st.st_atim.tv_nsec == 1,
           st.st_mtim.tv_sec > 1600000000);
    struct timespec before = st.st_mtim;
    VALUE("fd set_times atim_now", __wasi_fd_filestat_set_times(fd, old, old, __WASI_FSTFLAGS_ATIM_NOW));
    fstat(fd, &st);
    printf("atime changed %d mtime kept %d\n", st.st_atim.tv_sec > 1600000000,
           st.st_mtim.tv_sec == before.tv_sec && st.st_mtim.tv_nsec == before.tv_nsec);
    VALUE("fd set_times atim", __wasi_fd_filestat_set_times(fd, old, 0, __WASI_FSTFLAGS_ATIM));
    fstat(fd, &st);
    printf("atime %lld mtime kept %d\n", (long long)st.st_atim.tv_sec,
           st.st_mtim.tv_sec == before.tv_sec && st.st_mtim.tv_nsec == before.tv_nsec);
    VALUE("fd set_times atim+atim_now", __wasi_fd_filestat_set_times(
              fd, old, old, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    VALUE("path set_times mtim+mtim_now", __wasi_path_filestat_set_times(
              here, 0, "t", old, old, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
    VALUE("path set_times both now", __wasi_path_filestat_set_times(
              here, 0, "t", 0, 0, __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
    stat("t", &st);
    printf("both now %d\n", st.st_atim.tv_sec > 1600000000 && st.st_mtim.tv_sec > 1600000000);
    VALUE("path set_times none", __wasi_path_filestat_set_times(here, 0, "t", 0, 0, 0));
    close(here);
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    CHECK("utimensat bad nsec", utimensat(AT_FDCWD, "t", bad, 0));
    CHECK("utimensat missing", utimensat(AT_FDCWD, "nope", ts, 0));
    CHECK("utimensat dir", utimensat(AT_FDCWD, "d", ts, 0));
    stat("d", &st);
    printf("dir mtime %lld.%09ld\n", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    /* Leave t with known times for the host to check. */
    CHECK("utimensat final", utimensat(AT_FDCWD, "t", ts, 0));
    close(fd);
}

int main(int argc, char **argv) {
    enter_sandbox(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    basics();
    vectors();
    append_and_fcntl();
    open_flags();
    big_offsets_and_renumber();
    times();
    printf("done\n");
    return 0;
}
