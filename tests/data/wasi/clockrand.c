/* Clocks and random: prints only facts that hold on any correct host
   (so the output is the same in every runtime). */
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <string.h>

int main(void) {
    struct timespec a, b, r;
    int ok = clock_gettime(CLOCK_MONOTONIC, &a) == 0;
    volatile unsigned x = 0;
    for (int i = 0; i < 100000; i++) x += i;
    ok &= clock_gettime(CLOCK_MONOTONIC, &b) == 0;
    int64_t da = (int64_t)a.tv_sec * 1000000000 + a.tv_nsec, db = (int64_t)b.tv_sec * 1000000000 + b.tv_nsec;
    printf("monotonic ok=%d nondecreasing=%d\n", ok, db >= da);
    ok = clock_gettime(CLOCK_REALTIME, &a) == 0;
    printf("realtime ok=%d after2020=%d\n", ok, a.tv_sec > 1577836800);
    ok = clock_getres(CLOCK_MONOTONIC, &r) == 0;
    printf("res ok=%d positive=%d\n", ok, r.tv_sec > 0 || r.tv_nsec > 0);
    time_t t = time(NULL);
    printf("time after2020=%d\n", t > 1577836800);
    unsigned char buf[64], buf2[64];
    int g1 = getentropy(buf, sizeof buf), g2 = getentropy(buf2, sizeof buf2);
    printf("getentropy %d %d differ=%d\n", g1, g2, memcmp(buf, buf2, sizeof buf) != 0);
    return 0;
}
