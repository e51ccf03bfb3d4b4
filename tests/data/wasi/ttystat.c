/* fd_fdstat_get of stdio and libc's isatty, printed on stderr (run on a pty). */
#include <stdio.h>
#include <unistd.h>
#include <wasi/api.h>
int main(void) {
    for (int fd = 0; fd < 3; fd++) { __wasi_fdstat_t st;
      if (__wasi_fd_fdstat_get(fd, &st)) return 1;
      fprintf(stderr, "fd%d type=%d base=%llx isatty=%d\n", fd, st.fs_filetype, (unsigned long long)st.fs_rights_base, isatty(fd)); }
    return 0;
}
