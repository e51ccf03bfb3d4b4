/* Shared by the file-system test programs: errno names and one-line checks
   whose output is the same on every correct host (no fd numbers, inode
   numbers or times unless the program set them itself). */
#ifndef WASITEST_H
#define WASITEST_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
#define N(x) case x: return #x;
    N(E2BIG) N(EACCES) N(EAGAIN) N(EBADF) N(EBUSY) N(EEXIST) N(EFAULT) N(EFBIG)
    N(EILSEQ) N(EINTR) N(EINVAL) N(EIO) N(EISDIR) N(ELOOP) N(EMFILE) N(EMLINK)
    N(ENAMETOOLONG) N(ENFILE) N(ENODEV) N(ENOENT) N(ENOMEM) N(ENOSPC) N(ENOSYS)
    N(ENOTDIR) N(ENOTEMPTY) N(ENOTSUP) N(ENOTTY) N(ENXIO) N(EOVERFLOW) N(EPERM)
    N(EPIPE) N(ERANGE) N(EROFS) N(ESPIPE) N(ESRCH) N(ETXTBSY) N(EXDEV)
    N(ENOTCAPABLE)
#undef N
    case 0: return "0";
    default: {
        static char buf[24];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

/* CHECK(label, expr): expr is a call returning -1 with errno on failure;
   prints "label: ok" or "label: ENAME". Evaluates to the result. */
#define CHECK(label, expr) ({ errno = 0; long r_ = (long)(expr); check_((label), r_, errno); })
static long check_(const char *label, long r, int e) {
    if (r < 0) printf("%s: %s\n", label, errname(e));
    else printf("%s: ok\n", label);
    return r;
}

/* VALUE(label, expr): like CHECK but prints the value on success. */
#define VALUE(label, expr) \
    ({ errno = 0; long long r_ = (long long)(expr); value_((label), r_, errno); })
static long long value_(const char *label, long long r, int e) {
    if (r < 0) printf("%s: %s\n", label, errname(e));
    else printf("%s: %lld\n", label, r);
    return r;
}

/* The program's directory: argv[1], or /sandbox (run by hand with
   `wasmtime run --dir HOST::/sandbox prog.wasm`). Exits 2 if unusable. */
static void enter_sandbox(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/sandbox";
    if (chdir(dir) != 0) {
        fprintf(stderr, "cannot chdir to %s: %s\n", dir, errname(errno));
        exit(2);
    }
}

/* Print a buffer of a known length, non-printing bytes escaped. */
static void show_bytes(const char *label, const char *p, long n) {
    printf("%s: %ld \"", label, n);
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 32 && c < 127 && c != '\\' && c != '"') putchar(c); else printf("\\x%02x", c);
    }
    printf("\"\n");
}

/* Debian ships no compiler-rt builtins for wasm32, and wasi-libc's
   futimens/utimensat need the 128-bit overflow-checking multiply (and scanf
   the plain one). These work on 32-bit limbs so that they need no other
   128-bit helper. */
typedef union { __int128 v; uint64_t h[2]; } wide_;

static void limbs_(const wide_ *w, uint64_t out[4]) {
    out[0] = w->h[0] & 0xffffffffu; out[1] = w->h[0] >> 32;
    out[2] = w->h[1] & 0xffffffffu; out[3] = w->h[1] >> 32;
}

static void negate_(wide_ *w) {
    w->h[0] = ~w->h[0]; w->h[1] = ~w->h[1];
    if (++w->h[0] == 0) w->h[1]++;
}

/* The low 128 bits of a * b (wasi-libc's integer scanf needs it). */
__int128 __multi3(__int128 a, __int128 b) {
    wide_ x = {a}, y = {b};
    uint64_t p[4], q[4], r[4] = {0};
    limbs_(&x, p);
    limbs_(&y, q);
    for (int i = 0; i < 4; i++) {
        uint64_t carry = 0;
        for (int j = 0; i + j < 4; j++) {
            uint64_t t = p[i] * q[j] + r[i + j] + carry;
            r[i + j] = t & 0xffffffffu;
            carry = t >> 32;
        }
    }
    wide_ m;
    m.h[0] = r[0] | (r[1] << 32);
    m.h[1] = r[2] | (r[3] << 32);
    return m.v;
}

__int128 __muloti4(__int128 a, __int128 b, int *overflow) {
    wide_ x = {a}, y = {b};
    int neg = 0;
    if (x.h[1] >> 63) { negate_(&x); neg ^= 1; }
    if (y.h[1] >> 63) { negate_(&y); neg ^= 1; }
    uint64_t p[4], q[4], r[8] = {0};
    limbs_(&x, p);
    limbs_(&y, q);
    for (int i = 0; i < 4; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 4; j++) {
            uint64_t t = p[i] * q[j] + r[i + j] + carry;   /* fits: (2^32-1)^2 + 2*(2^32-1) */
            r[i + j] = t & 0xffffffffu;
            carry = t >> 32;
        }
        r[i + 4] += carry;
    }
    wide_ m;
    m.h[0] = r[0] | (r[1] << 32);
    m.h[1] = r[2] | (r[3] << 32);
    int big = (r[4] | r[5] | r[6] | r[7]) != 0;
    /* The magnitude may be at most 2^127 - 1, or exactly 2^127 if negative. */
    if (m.h[1] >> 63) big |= !(neg && m.h[1] == (uint64_t)1 << 63 && m.h[0] == 0);
    if (neg) negate_(&m);
    *overflow = big;
    return m.v;
}

#endif
