/* Optimisation barrier shared by the SRH benchmark's two sides, srh-bench
 * (Swift, through the SRHBenchSupport module) and Benchmarks/srh/srh_kernel_c.c
 * (which includes this header), so that neither compiler can drop or hoist the
 * work being timed.
 *
 * srh_bench_escape(p) emits no instruction, but the compiler must assume that
 * it reads `p` and reads and writes any memory: the bytes an operation wrote
 * (through p or elsewhere) must really be written, and inputs must be read
 * again after it. */
#ifndef SRH_BENCH_SUPPORT_H
#define SRH_BENCH_SUPPORT_H

static inline __attribute__((always_inline)) void srh_bench_escape(const void *p) {
    __asm__ volatile("" : : "r"(p) : "memory");
}

#endif
