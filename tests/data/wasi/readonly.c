/* A read-only preopen (wasmtime-py fs_mutable=False; wasmbox DirPerms and
   FilePerms READ_ONLY): reading works, every change is refused.
   The host gives DIR (argv[1], default /sandbox) r.txt ("read only\n"),
   sub/ and lnk -> r.txt. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "wasitest.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    enter_sandbox(argc, argv);
    char buf[64];
    int fd = CHECK("open r.txt rdonly", open("r.txt", O_RDONLY));
    show_bytes("read", buf, read(fd, buf, sizeof buf));
    CHECK("write on it", write(fd, "x", 1));
    CHECK("ftruncate it", ftruncate(fd, 0));
    struct timespec ts[2] = {{1, 0}, {2, 0}};
    CHECK("futimens it", futimens(fd, ts));
    CHECK("fsync it", fsync(fd));
    CHECK("fdatasync it", fdatasync(fd));
    printf("posix_fallocate it: %s\n", errname(posix_fallocate(fd, 0, 100)));
    printf("posix_fadvise it: %s\n", errname(posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL)));
    CHECK("setfl append", fcntl(fd, F_SETFL, O_APPEND));
    close(fd);
    CHECK("open r.txt wronly", open("r.txt", O_WRONLY));
    CHECK("open r.txt rdwr", open("r.txt", O_RDWR));
    CHECK("open r.txt append", open("r.txt", O_WRONLY | O_APPEND));
    CHECK("open r.txt trunc", open("r.txt", O_RDONLY | O_TRUNC));
    CHECK("creat new", open("new", O_CREAT | O_WRONLY, 0644));
    CHECK("creat new rdonly", open("new", O_CREAT | O_RDONLY, 0644));
    CHECK("creat excl existing", open("r.txt", O_CREAT | O_EXCL | O_RDONLY, 0644));
    CHECK("mkdir", mkdir("newdir", 0755));
    CHECK("mkdir existing", mkdir("sub", 0755));
    CHECK("rmdir sub", rmdir("sub"));
    CHECK("unlink r.txt", unlink("r.txt"));
    CHECK("unlink missing", unlink("missing"));
    CHECK("rename", rename("r.txt", "moved"));
    CHECK("link", link("r.txt", "hard"));
    CHECK("symlink", symlink("r.txt", "sym"));
    CHECK("utimensat", utimensat(AT_FDCWD, "r.txt", ts, 0));
    CHECK("truncate", truncate("r.txt", 0));
    struct stat st;
    CHECK("stat r.txt", stat("r.txt", &st));
    printf("size %lld\n", (long long)st.st_size);
    CHECK("lstat lnk", lstat("lnk", &st));
    printf("lnk is link %d\n", S_ISLNK(st.st_mode));
    long n = readlink("lnk", buf, sizeof buf);
    show_bytes("readlink lnk", buf, n < 0 ? 0 : n);
    fd = CHECK("open via lnk", open("lnk", O_RDONLY));
    close(fd);
    fd = CHECK("open sub", open("sub", O_RDONLY | O_DIRECTORY));
    CHECK("creat in sub via openat", openat(fd, "x", O_CREAT | O_WRONLY, 0644));
    close(fd);
    DIR *d = opendir(".");
    int count = 0;
    while (d && readdir(d)) count++;
    printf("readdir .: %d entries\n", count);
    if (d) closedir(d);
    printf("done\n");
    return 0;
}
