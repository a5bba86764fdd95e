/*
 * The contract between srh_steer.bpf.c (tc egress program) and its loader:
 * map key and value layouts, shared by the BPF object and SubflowSteering.
 */
#ifndef CSRH_STEER_ABI_H
#define CSRH_STEER_ABI_H

#include <linux/types.h>
#include <linux/in6.h>

#define CSRH_STEER_MAX_FLOWS 65536
/* 16 segments without TLVs (264 bytes) or 14 with an HMAC TLV (272); 8-byte multiple. */
#define CSRH_STEER_MAX_SRH 280
#define CSRH_STEER_MAX_SEGMENTS 16

/* Hash key: the subflow's 4-tuple as it appears in the packet (network order). */
struct csrh_steer_key {
    struct in6_addr saddr;
    struct in6_addr daddr;
    __be16 sport;
    __be16 dport;
};

struct csrh_steer_value {
    __u32 length;                       /* SRH bytes: 8 + 16 n (+ TLVs), multiple of 8 */
    __u8 srh[CSRH_STEER_MAX_SRH];       /* complete SRH, Segment List[0] = final destination */
};

enum {
    CSRH_STEER_STAT_STEERED = 0,        /* packets that got an SRH */
    CSRH_STEER_STAT_ERRORS = 1,         /* bad map values, adjust_room or store failures */
    CSRH_STEER_STAT_COUNT = 2,
};

_Static_assert(sizeof(struct csrh_steer_key) == 36, "steer key is 36 bytes");
_Static_assert(sizeof(struct csrh_steer_value) == 284, "steer value is 4 + 280 bytes");

#endif
