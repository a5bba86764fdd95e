/*
 * The contract between srh_steer.bpf.c (tc egress program) and its loader:
 * map key and value layouts, shared by the BPF objects and the Swift modules that fill their maps.
 */
#ifndef CSRH_STEER_ABI_H
#define CSRH_STEER_ABI_H

/* Only <stdint.h>: this header is part of the CSRH module Swift imports, and
 * uapi headers such as <linux/in6.h> would make that module claim libc names
 * (IPPROTO_*, SOCK_*) and hide them from Swift files that do not import CSRH. */
#if defined(__bpf__)
#include <linux/types.h>            /* the BPF target has no libc headers */
typedef __u8 csrh_u8;
typedef __u16 csrh_u16;
typedef __u32 csrh_u32;
typedef __u64 csrh_u64;
#else
#include <stdint.h>
typedef uint8_t csrh_u8;
typedef uint16_t csrh_u16;
typedef uint32_t csrh_u32;
typedef uint64_t csrh_u64;
#endif

#define CSRH_STEER_MAX_FLOWS 65536
/* 16 segments without TLVs (264 bytes) or 14 with an HMAC TLV (272); 8-byte multiple. */
#define CSRH_STEER_MAX_SRH 280
#define CSRH_STEER_MAX_SEGMENTS 16

/* Hash key: the subflow's 4-tuple as it appears in the packet (network order). */
struct csrh_steer_key {
    csrh_u8 saddr[16];
    csrh_u8 daddr[16];
    csrh_u16 sport;                     /* network byte order */
    csrh_u16 dport;                     /* network byte order */
};

/* An SRH to insert and the Destination Address the packet then gets. For a full SRH the
 * address is Segment List[Segments Left]; for a reduced SRH (RFC 8754 §4.1.1: Segments Left =
 * Last Entry + 1) it is the first segment, which is in no Segment List entry. With RFC 9800
 * containers it is the first container. Segment List[0] is the final destination either way. */
struct csrh_steer_value {
    csrh_u32 length;                    /* SRH bytes: 8 + 16 n (+ TLVs), multiple of 8 */
    csrh_u8 daddr[16];                  /* the packet's new Destination Address (the active segment) */
    csrh_u8 srh[CSRH_STEER_MAX_SRH];       /* the SRH as sent, Segment List[0] = final destination */
};

enum {
    CSRH_STEER_STAT_STEERED = 0,        /* packets that got an SRH */
    CSRH_STEER_STAT_ERRORS = 1,         /* bad map values, adjust_room or store failures */
    CSRH_STEER_STAT_REDIRECTED = 2,     /* steered packets sent out of another interface */
    CSRH_STEER_STAT_COUNT = 3,
};

_Static_assert(sizeof(struct csrh_steer_key) == 36, "steer key is 36 bytes");
_Static_assert(sizeof(struct csrh_steer_value) == 300, "steer value is 4 + 16 + 280 bytes");

/*
 * srv6_router.bpf.c (tc ingress on every interface of a testbed router, used when the
 * kernel has no seg6local): one entry per local SID, keyed by the SID address.
 */
#define CSRH_ROUTER_MAX_SIDS 4096
enum {
    CSRH_ROUTER_END = 1,                /* End: next segment, then the kernel routes it */
    CSRH_ROUTER_END_X = 2,              /* End.X: next segment, out of `ifindex` to `nexthop` */
};

/* Flavors of a SID (csrh_router_sid.flavor). */
enum {
    CSRH_ROUTER_PLAIN = 0,              /* the key is the whole SID */
    CSRH_ROUTER_NEXT_CSID = 1,          /* RFC 9800 NEXT-C-SID: the key is block, C-SID, zeros, and
                                           matches every Destination Address that starts with them */
};

struct csrh_router_sid {
    csrh_u32 behavior;                  /* CSRH_ROUTER_END or CSRH_ROUTER_END_X */
    csrh_u32 ifindex;                   /* End.X: the interface toward the neighbour */
    csrh_u8 nexthop[16];                /* End.X: the neighbour's address on that link */
    csrh_u64 packets;                   /* packets processed (updated atomically) */
    csrh_u64 bytes;                     /* their bytes */
    csrh_u64 errors;                    /* dropped: no SRH, Segments Left 0, bad SRH, hop limit */
    csrh_u32 flavor;                    /* CSRH_ROUTER_PLAIN or CSRH_ROUTER_NEXT_CSID */
    csrh_u32 local;                     /* 1: a C-SID from the node's local range (End.X): it is
                                           taken only right after the node's own End C-SID */
};

_Static_assert(sizeof(struct csrh_router_sid) == 56, "router SID value is 56 bytes");

/* The router's C-SID format (srte_csid[0]): Locator-Block and C-SID length in bytes; 0: the
 * router has no NEXT-C-SID SIDs. RFC 9800 allows any bit lengths; the program takes whole bytes. */
struct csrh_router_csid {
    csrh_u32 block_bytes;
    csrh_u32 csid_bytes;
};

/*
 * The connect-time steering program (bpf/srh_connect.bpf.c), a cgroup sock_ops program: when a
 * TCP socket of the configured network namespace connects (BPF_SOCK_OPS_TCP_CONNECT_CB, before
 * the SYN is built), the first rule whose destination prefix, port range, source prefix, uid
 * range (of the process calling connect()) and cgroup hold writes the rule's SRH, with the
 * connection's destination as Segment List[0] (and as the Destination Address when Segments Left
 * is 0: the SRH holds only the destination), into the flow map of the tc steering program
 * (srte_flows, shared) — unless the 4-tuple is already steered — and records the rule's tag for
 * the flow (srte_cmatch). It deletes what it made when the socket closes.
 *
 * Sockets that the configured process connects (the agent's own SUBFLOW_CREATE joins: their
 * CONNECT_CB runs inside the netlink request) never match rules: they take the armed pending
 * join (csrh_connect_join) instead, so the agent can open joins with local port 0 and still
 * steer each before its SYN; the program writes the port it got back into the slot.
 */
#define CSRH_CONNECT_MAX_RULES 16

struct csrh_connect_rule {
    csrh_u32 net[4];                    /* destination prefix, network byte order, masked */
    csrh_u32 mask[4];
    csrh_u32 src_net[4];                /* source prefix, the same way (mask 0: any source) */
    csrh_u32 src_mask[4];
    csrh_u16 port_lo, port_hi;          /* destination ports, host byte order */
    csrh_u32 in_use;                    /* 0: an empty slot */
    csrh_u32 mss;                       /* TCP_MAXSEG for the socket, leaving room for the SRH; 0: none */
    csrh_u32 uid_lo, uid_hi;            /* uid of the process calling connect() */
    csrh_u64 cgroup_id;                 /* cgroup v2 id the caller must be in or under; 0: any */
    csrh_u32 cgroup_level;              /* that cgroup's depth below the root */
    csrh_u32 tag;                       /* recorded per matched flow in srte_cmatch */
    struct csrh_steer_value srh;        /* Segment List[0] is overwritten per connection; length 0:
                                           the rule matches and its connections get no SRH */
};

struct csrh_connect_config {
    csrh_u64 netns;                     /* the netns cookie whose sockets are steered */
    csrh_u32 agent_tgid;                /* its sockets take the pending join, not the rules; 0: none */
    csrh_u16 skip_port_lo, skip_port_hi; /* local ports never matched (0, 0: none) */
};

/* What the program records per connection a rule matched (srte_cmatch, an LRU hash keyed like
 * srte_flows), for the agent, which deletes it once read. The program marks it closed when the
 * socket closes first, so a connection that closes before the agent handles its event is still
 * known as matched. (The flows the program steers are tracked apart, in srte_cowned, and
 * deleted at close whatever the agent does.) */
struct csrh_connect_match {
    csrh_u32 tag;                       /* the rule's tag */
    csrh_u32 closed;                    /* 1: the socket has closed */
};

/* The pending join (srte_cjoin[0]), armed by the agent around one SUBFLOW_CREATE. */
struct csrh_connect_join {
    csrh_u8 daddr[16];                  /* the join's destination address and port (host order) */
    csrh_u16 dport;
    csrh_u16 sport;                     /* written by the program: the local port the join got */
    csrh_u32 armed;                     /* 1: the next socket the agent connects to daddr, dport
                                           takes it; the program sets 0 once used */
    csrh_u32 mss;                       /* TCP_MAXSEG for the join; 0: none */
    struct csrh_steer_value srh;        /* length 0: the join keeps the IGP path */
};

enum {
    CSRH_CONNECT_STAT_STEERED = 0,      /* connections whose SYN got a rule's SRH */
    CSRH_CONNECT_STAT_KEPT = 1,         /* connections already steered (left as they were) */
    CSRH_CONNECT_STAT_REMOVED = 2,      /* entries deleted when their socket closed */
    CSRH_CONNECT_STAT_JOINS = 3,        /* the agent's joins that took the pending join */
    CSRH_CONNECT_STAT_COUNT = 4,
};

#endif
