/*
 * srte's compatibility <linux/tcp.h>: the system's header, plus the socket API of the
 * out-of-tree MPTCP kernel that draft-hesmans-mptcp-socket-03 describes (its option numbers
 * at IPPROTO_TCP and its structs), so a program written against that kernel's header compiles
 * unchanged on upstream Linux:
 *
 *     cc $(CPPFLAGS) -I"$(srte run --print-compat-include)" prog.c
 *     srte run -- ./prog
 *
 * On upstream Linux these options exist only under `srte run` (its LD_PRELOAD shim answers
 * them; Docs/CAPI.md has the table). 42-45 are upstream's TCP_AO_REPAIR, TCP_IS_MPTCP,
 * TCP_RTO_MAX_MS and TCP_RTO_MIN_US too: the shim tells them apart on the sockets it manages.
 *
 * Do not combine with <linux/mptcp.h>: both define MPTCP_INFO and struct mptcp_info, with
 * different meanings (upstream's is getsockopt(SOL_MPTCP, 1)).
 *
 * The structs are the out-of-tree header's. Define SRTE_COMPAT_DRAFT03 before including this
 * header for draft-03's struct mptcp_sub_tuple (prio, if_idx, ipv6_srh: srte's layout, the
 * addresses last) and struct mptcp_close_sub_id (with `how`); the shim accepts both layouts,
 * told apart by optlen.
 */
#include_next <linux/tcp.h>

#ifndef SRTE_COMPAT_LINUX_TCP_H
#define SRTE_COMPAT_LINUX_TCP_H

#ifdef _UAPI_MPTCP_H
#error "srte's compatibility <linux/tcp.h> (the out-of-tree MPTCP API) cannot be combined with <linux/mptcp.h>"
#endif

#include <linux/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Per socket, at IPPROTO_TCP (setsockopt and getsockopt). */
#define MPTCP_ENABLED      42   /* int: 1 MPTCP, 0 plain TCP (before bind/connect) */
#define MPTCP_SCHEDULER    43   /* name, at most MPTCP_SCHED_NAME_MAX bytes */
#define MPTCP_PATH_MANAGER 44   /* name, at most MPTCP_PM_NAME_MAX bytes */
#define MPTCP_INFO         45   /* struct mptcp_info (getsockopt); flags (setsockopt) */

#define MPTCP_INFO_FLAG_SAVE_MASTER 0x01

#define MPTCP_SCHED_NAME_MAX 16
#define MPTCP_PM_NAME_MAX    16

/* draft-hesmans-mptcp-socket-03: per subflow, getsockopt at IPPROTO_TCP. */
#define MPTCP_GET_SUB_IDS    66
#define MPTCP_CLOSE_SUB_ID   67
#define MPTCP_GET_SUB_TUPLE  68
#define MPTCP_OPEN_SUB_TUPLE 69
#define MPTCP_GET_SUB_INFO   70
#define MPTCP_SUB_GETSOCKOPT 71
#define MPTCP_SUB_SETSOCKOPT 72

struct mptcp_meta_info {
    __u8  mptcpi_state;
    __u8  mptcpi_retransmits;
    __u8  mptcpi_probes;
    __u8  mptcpi_backoff;

    __u32 mptcpi_rto;
    __u32 mptcpi_unacked;

    __u32 mptcpi_last_data_sent;
    __u32 mptcpi_last_data_recv;
    __u32 mptcpi_last_ack_recv;

    __u32 mptcpi_total_retrans;

    __u64 mptcpi_bytes_acked;
    __u64 mptcpi_bytes_received;
};

struct mptcp_sub_info {
    union {
        struct sockaddr src;
        struct sockaddr_in src_v4;
        struct sockaddr_in6 src_v6;
    };
    union {
        struct sockaddr dst;
        struct sockaddr_in dst_v4;
        struct sockaddr_in6 dst_v6;
    };
};

struct tcp_info;

struct mptcp_info {
    __u32 tcp_info_len;          /* length of each struct tcp_info at subflows */
    __u32 sub_len;               /* bytes at subflows */
    __u32 meta_len;              /* bytes at meta_info */
    __u32 sub_info_len;          /* length of each struct mptcp_sub_info at subflow_info */
    __u32 total_sub_info_len;    /* bytes at subflow_info */

    struct mptcp_meta_info *meta_info;
    struct tcp_info *initial;
    struct tcp_info *subflows;
    struct mptcp_sub_info *subflow_info;
};

struct mptcp_sub_status {
    __u8  id;
    __u16 slave_sk:1,
          fully_established:1,
          attached:1,
          low_prio:1,
          pre_established:1;
};

struct mptcp_sub_ids {
    __u8 sub_count;
    struct mptcp_sub_status sub_status[];
};

#ifdef SRTE_COMPAT_DRAFT03
struct ipv6_sr_hdr;
/* draft-03 Figure 10 in srte's layout: optlen 16 + 2 * sizeof(struct sockaddr_in6) (even). */
struct mptcp_sub_tuple {
    __u8  id;
    __u8  prio;
    __u16 reserved;
    __s32 if_idx;
    struct ipv6_sr_hdr *ipv6_srh;
    __u8  addrs[] __attribute__((aligned(8)));
};

/* how: SHUT_RDWR (FIN) or -1 (RST). */
struct mptcp_close_sub_id {
    __u8  id;
    __s32 how;
};
#else
/* The out-of-tree header's: optlen 1 + 2 * sizeof(struct sockaddr_in[6]) (odd). */
struct mptcp_sub_tuple {
    __u8 id;
    __u8 addrs[];
};

struct mptcp_close_sub_id {
    __u8 id;
};
#endif

struct mptcp_sub_getsockopt {
    __u8  id;
    int   level;
    int   optname;
    char *optval;
    unsigned int *optlen;
};

struct mptcp_sub_setsockopt {
    __u8  id;
    int   level;
    int   optname;
    char *optval;
    unsigned int optlen;
};

#endif
