/* fdwrite_cost: call the raw __wasi_fd_write N times (argv[1], default
 * 100000) with a 1-byte iovec to stdout (fd 1), then print nothing else.
 * argv[2] = "loop" runs the same loop without the call (the baseline to
 * subtract: loop overhead and the iovec set-up, which the compiler cannot
 * drop because the iovec is volatile). The written bytes are the low byte
 * of the counter, so the output can be hashed and compared. */
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "parse_ul.h"

int main(int argc, char **argv) {
    unsigned long n = argc > 1 ? parse_ul(argv[1]) : 100000;
    int call = !(argc > 2 && strcmp(argv[2], "loop") == 0);
    volatile unsigned char byte;
    volatile __wasi_ciovec_t iov;
    __wasi_size_t written;
    unsigned long errors = 0;
    for (unsigned long i = 0; i < n; i++) {
        byte = (unsigned char)i;
        iov.buf = (const uint8_t *)&byte;
        iov.buf_len = 1;
        if (call) {
            if (__wasi_fd_write(1, (const __wasi_ciovec_t *)&iov, 1, &written) != 0 ||
                written != 1)
                errors++;
        }
    }
    return errors ? 1 : 0;
}
