/* The C anchor for srte's SRH benchmark: the same operations on the same inputs
 * as Benchmarks/srh/Sources/srh-bench, with the checks srte makes (the IPV6_RTHDR length
 * rules, then Linux seg6_validate_srh in its order, non-reduced: segments_left
 * <= last_entry; every TLV walked as type+length, as the kernel does).
 * Written for this benchmark from the rule list; no kernel code copied.
 *   gcc -O2 -o srh_kernel_c srh_kernel_c.c && ./srh_kernel_c [iterations]
 * Ops: build (path -> wire bytes, list reversed), validate, decode (validate +
 * copy the segments out in path order and the TLV bytes out, as srte does),
 * build+validate. 7 repeats, median. Every operation goes through the same
 * optimisation barrier as srh-bench's, srh_bench_escape. */
#include "Sources/SRHBenchSupport/include/srh_bench_support.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int build(uint8_t *buf, size_t cap, const uint8_t (*path)[16], int n, uint8_t nh, uint16_t tag,
                 const uint8_t *tlv, size_t tlv_len) {
    size_t len = 8 + 16 * (size_t)n + tlv_len;
    if (n < 1 || n > 127 || len % 8 || len > cap || len > 2040) return -1;
    buf[0] = nh; buf[1] = (uint8_t)(len / 8 - 1); buf[2] = 4;
    buf[3] = (uint8_t)(n - 1); buf[4] = (uint8_t)(n - 1); buf[5] = 0;
    buf[6] = (uint8_t)(tag >> 8); buf[7] = (uint8_t)tag;
    for (int i = 0; i < n; i++) memcpy(buf + 8 + 16 * i, path[n - 1 - i], 16);
    if (tlv_len) memcpy(buf + 8 + 16 * n, tlv, tlv_len);
    return (int)len;
}

/* 0 = valid, else the number of the failing check (as srte's error kinds). */
static int validate(const uint8_t *p, size_t len) {
    if (len < 2) return 1;
    if (len & 7) return 2;
    if (len > 2040) return 3;
    size_t hdrlen = p[1];
    if ((hdrlen + 1) * 8 > len) return 4;
    if (p[2] != 4) return 5;
    if ((hdrlen + 1) * 8 != len) return 6;
    int left = p[3], last = p[4];
    if (left > last) return 7;
    if (last > (int)(hdrlen / 2) - 1) return 8;
    size_t off = 8 + 16 * ((size_t)last + 1);
    long trailing = (long)len - (long)off;
    while (trailing > 0) {
        if (trailing < 2) return 9;
        long tl = 2 + p[off + 1];
        trailing -= tl;
        if (trailing < 0) return 10;
        off += (size_t)tl;
    }
    return 0;
}

static int decode(const uint8_t *p, size_t len, uint8_t (*out)[16], uint8_t *tlv_out, size_t *tlv_len) {
    if (validate(p, len)) return -1;
    int n = p[4] + 1;
    for (int i = 0; i < n; i++) memcpy(out[i], p + 8 + 16 * (n - 1 - i), 16);
    size_t off = 8 + 16 * (size_t)n;
    *tlv_len = len - off;
    memcpy(tlv_out, p + off, len - off);
    return n;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    static uint8_t path[127][16], buf[2048], out[127][16], out_tlv[2048];
    size_t out_tlv_len = 0;
    for (int i = 0; i < 127; i++) {
        memset(path[i], 0, 16);
        path[i][0] = 0xfc; path[i][4] = (uint8_t)((i + 1) >> 8); path[i][5] = (uint8_t)(i + 1); path[i][15] = 1;
    }
    const uint8_t tlv[8] = {4, 6, 0, 0, 0, 0, 0, 0};
    /* self-test: the kernel's corner cases */
    int L = build(buf, sizeof buf, path, 2, 41, 0, NULL, 0);
    uint8_t lone[48]; memcpy(lone, buf, 40); memcpy(lone + 40, (uint8_t[]){4, 5, 0, 0, 0, 0, 0, 0}, 8); lone[1] = 5;
    if (L != 40 || validate(buf, 40) || validate(lone, 48) != 9) { fprintf(stderr, "self-test failed\n"); return 1; }
    struct { int n; size_t tlv; } cases[] = {{1, 0}, {4, 0}, {16, 0}, {4, 8}};
    const char *ops[] = {"build", "validate", "decode", "build+validate"};
    volatile long sink = 0;
    for (long i = 0; i < 10 * iters; i++) { srh_bench_escape(buf); sink += build(buf, sizeof buf, path, 4, 41, 0, NULL, 0); }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = cases[c].n;
        int len = build(buf, sizeof buf, path, n, 41, 0, tlv, cases[c].tlv);
        for (int op = 0; op < 4; op++) {
            double runs[7];
            for (int r = 0; r < 7; r++) {
                long acc = 0;
                double t0 = now_ns();
                for (long i = 0; i < iters; i++) {
                    srh_bench_escape(buf);
                    switch (op) {
                    case 0: acc += build(buf, sizeof buf, path, n, 41, (uint16_t)i, tlv, cases[c].tlv); break;
                    case 1: acc += validate(buf, (size_t)len); break;
                    case 2: acc += decode(buf, (size_t)len, out, out_tlv, &out_tlv_len);
                            srh_bench_escape(out); srh_bench_escape(out_tlv); break;
                    case 3: { int l = build(buf, sizeof buf, path, n, 41, (uint16_t)i, tlv, cases[c].tlv);
                              acc += validate(buf, (size_t)l); } break;
                    }
                }
                runs[r] = (now_ns() - t0) / iters;
                sink += acc;
            }
            qsort(runs, 7, sizeof runs[0], cmp);
            printf("{\"anchor\": \"c.kernel-checks\", \"op\": \"%s\", \"segments\": %d, \"tlv_bytes\": %zu, \"bytes\": %d, "
                   "\"median_ns\": %.2f, \"min_ns\": %.2f, \"iterations\": %ld, \"repeat\": 7}\n",
                   ops[op], n, cases[c].tlv, len, runs[3], runs[0], iters);
        }
    }
    (void)sink;
    return 0;
}
