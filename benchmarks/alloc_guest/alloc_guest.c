/* The guest side of benchmarks/bench_alloc.py.
 *
 * The guest-side allocator is the one in the shared bench corpus
 * (../shared/bench/src/bench.h, pure flavor: power-of-two size classes with
 * an 8-byte header, free lists, a bump pointer grown with memory.grow).
 *
 * Exports:
 *   g_malloc(size) -> ptr, g_free(ptr)   bench.h's allocator, one call per op
 *   churn(n, seed) -> checksum           the whole workload in the guest,
 *                                        on bench.h's allocator
 *   churn_host(n, seed) -> checksum      the same workload, on the host
 *                                        allocator (imported malloc/free)
 *   memory, __heap_base
 *
 * The workload (mirrored exactly in bench_alloc.py): 64 slots; each step
 * draws x = lcg(x), slot k = x >> 26 and a size from size_of(x); the slot's
 * block, if any, is freed and a block of that size is allocated into it.
 * At the end every slot is freed, so n steps are n allocate+free pairs.
 * The checksum is the sum of the sizes (mod 2^32), which depends only on
 * (n, seed), never on addresses.
 */
#include "bench.h"

__attribute__((import_module("env"), import_name("ext_allocator_malloc_version_1")))
extern void *host_malloc(uint32_t size);
__attribute__((import_module("env"), import_name("ext_allocator_free_version_1")))
extern void host_free(void *ptr);

#define NSLOT 64

static inline uint32_t size_of(uint32_t x) {
    uint32_t r = (x >> 8) % 100u;
    if (r < 70u) return 1u + (x >> 15) % 128u;        /* 70%: 1 .. 128 bytes */
    if (r < 95u) return 129u + (x >> 15) % 3968u;     /* 25%: 129 .. 4096 */
    return 4097u + (x >> 12) % 61440u;                /*  5%: 4097 .. 65536 */
}

__attribute__((export_name("g_malloc"))) void *g_malloc(uint32_t size) {
    return bench_malloc(size);
}

__attribute__((export_name("g_free"))) void g_free(void *p) {
    bench_free(p);
}

#define CHURN(NAME, MALLOC, FREE)                                   \
    __attribute__((export_name(#NAME))) uint32_t NAME(int32_t n, uint32_t seed) { \
        void *slot[NSLOT];                                          \
        for (int i = 0; i < NSLOT; i++) slot[i] = 0;                \
        uint32_t x = seed, sum = 0;                                 \
        for (int32_t i = 0; i < n; i++) {                           \
            x = bench_lcg(x);                                       \
            uint32_t k = x >> 26, sz = size_of(x);                  \
            if (slot[k]) FREE(slot[k]);                             \
            slot[k] = MALLOC(sz);                                   \
            if (!slot[k]) return 0xffffffffu;                       \
            sum += sz;                                              \
        }                                                           \
        for (int i = 0; i < NSLOT; i++)                             \
            if (slot[i]) FREE(slot[i]);                             \
        return sum;                                                 \
    }

CHURN(churn, bench_malloc, bench_free)
CHURN(churn_host, host_malloc, host_free)
