/*
 * MPTCP ABI: the upstream uapi pieces the Debian 6.1 headers lack, and the
 * legacy out-of-tree socket API of draft-hesmans-mptcp-socket.
 *
 * Upstream part: include/uapi/linux/mptcp.h as of Linux 6.18 (struct layouts
 * confirmed against /sys/kernel/btf/vmlinux).
 * getsockopt(SOL_MPTCP) copies min(user, kernel) bytes, so a shorter struct
 * works on older kernels and a longer one on newer kernels.
 *
 * Legacy part: the bhesmans/mptcp out-of-tree kernel (options 66-72 at
 * IPPROTO_TCP), with draft-03's additions (prio, if_idx, ipv6_srh). See the
 * comment on csrh_mptcp_sub_tuple for the one layout decision we had to make.
 */
#ifndef CSRH_MPTCP_H
#define CSRH_MPTCP_H

#include <stddef.h>
#include <stdint.h>

#include "csrh_srh.h"

/* ---------------------------------------------------------------- upstream */

#define CSRH_IPPROTO_MPTCP 262
#define CSRH_SOL_MPTCP 284

/* getsockopt(SOL_MPTCP, ...) option names */
#define CSRH_MPTCP_INFO           1
#define CSRH_MPTCP_TCPINFO        2
#define CSRH_MPTCP_SUBFLOW_ADDRS  3
#define CSRH_MPTCP_FULL_INFO      4  /* Linux 6.5+ */

/* mptcpi_flags */
#define CSRH_MPTCP_INFO_FLAG_FALLBACK            (1u << 0)
#define CSRH_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED (1u << 1)

/* struct mptcp_info as of 6.18: 96 bytes (6.1 has 48). */
struct csrh_mptcp_info {
    uint8_t  mptcpi_subflows;
    uint8_t  mptcpi_add_addr_signal;
    uint8_t  mptcpi_add_addr_accepted;
    uint8_t  mptcpi_subflows_max;
    uint8_t  mptcpi_add_addr_signal_max;
    uint8_t  mptcpi_add_addr_accepted_max;
    uint32_t mptcpi_flags;
    uint32_t mptcpi_token;
    uint64_t mptcpi_write_seq;
    uint64_t mptcpi_snd_una;
    uint64_t mptcpi_rcv_nxt;
    uint8_t  mptcpi_local_addr_used;
    uint8_t  mptcpi_local_addr_max;
    uint8_t  mptcpi_csum_enabled;
    uint32_t mptcpi_retransmits;        /* 6.5 */
    uint64_t mptcpi_bytes_retrans;
    uint64_t mptcpi_bytes_sent;
    uint64_t mptcpi_bytes_received;
    uint64_t mptcpi_bytes_acked;
    uint8_t  mptcpi_subflows_total;     /* 6.9 */
    uint8_t  mptcpi_endp_laminar_max;   /* 6.18 (was reserved) */
    uint8_t  reserved[2];
    uint32_t mptcpi_last_data_sent;     /* 6.10 */
    uint32_t mptcpi_last_data_recv;
    uint32_t mptcpi_last_ack_recv;
};
_Static_assert(sizeof(struct csrh_mptcp_info) == 96, "mptcp_info is 96 bytes on 6.18");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_flags) == 8, "mptcpi_flags at 8");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_token) == 12, "mptcpi_token at 12");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_local_addr_used) == 40, "local_addr_used at 40");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_retransmits) == 44, "retransmits at 44");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_bytes_sent) == 56, "bytes_sent at 56");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_bytes_received) == 64, "bytes_received at 64");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_subflows_total) == 80, "subflows_total at 80");
_Static_assert(offsetof(struct csrh_mptcp_info, mptcpi_last_data_sent) == 84, "last_data_sent at 84");

/* struct mptcp_subflow_data: header of MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS. */
struct csrh_mptcp_subflow_data {
    uint32_t size_subflow_data; /* size of this struct in userspace */
    uint32_t num_subflows;      /* must be 0, set by kernel */
    uint32_t size_kernel;       /* must be 0, set by kernel */
    uint32_t size_user;         /* size of one element in data[] */
} __attribute__((aligned(8)));
_Static_assert(sizeof(struct csrh_mptcp_subflow_data) == 16, "mptcp_subflow_data is 16 bytes");

/* struct mptcp_subflow_addrs: local then remote, each a sockaddr_storage (128 bytes, 8-aligned).
 * Declared as bytes so that this header needs no libc socket headers: when the Swift-facing
 * module includes <netinet/in.h>, clang attributes libc names (IPPROTO_*, SOCK_*) to CSRH and
 * Swift files that do not import CSRH stop finding them. csrh.c checks the layout against
 * linux/mptcp.h; srte decodes the sockaddrs itself (SocketEndpoint(sockaddrBytes:)). */
struct csrh_mptcp_subflow_addrs {
    uint8_t local[128] __attribute__((aligned(8)));
    uint8_t remote[128];
};
_Static_assert(sizeof(struct csrh_mptcp_subflow_addrs) == 256, "mptcp_subflow_addrs is 2 x sockaddr_storage");
_Static_assert(offsetof(struct csrh_mptcp_subflow_addrs, remote) == 128, "remote at 128");

/* struct mptcp_subflow_info (6.5+): per-connection subflow counter id + addresses. */
struct csrh_mptcp_subflow_info {
    uint32_t id;
    struct csrh_mptcp_subflow_addrs addrs;
};
_Static_assert(sizeof(struct csrh_mptcp_subflow_info) == 264, "mptcp_subflow_info is 264 bytes");
_Static_assert(offsetof(struct csrh_mptcp_subflow_info, addrs) == 8, "addrs at 8 (sockaddr_storage alignment)");

/* struct mptcp_full_info (6.5+): one consistent snapshot of everything. */
struct csrh_mptcp_full_info {
    uint32_t size_tcpinfo_kernel;   /* must be 0, set by kernel */
    uint32_t size_tcpinfo_user;
    uint32_t size_sfinfo_kernel;    /* must be 0, set by kernel */
    uint32_t size_sfinfo_user;
    uint32_t num_subflows;          /* must be 0, set by kernel (real subflow count) */
    uint32_t size_arrays_user;      /* max subflows that userspace is interested in */
    uint64_t subflow_info __attribute__((aligned(8))); /* user pointer to mptcp_subflow_info[] */
    uint64_t tcp_info __attribute__((aligned(8)));     /* user pointer to tcp_info[] */
    struct csrh_mptcp_info mptcp_info;
};
_Static_assert(offsetof(struct csrh_mptcp_full_info, subflow_info) == 24, "subflow_info at 24");
_Static_assert(offsetof(struct csrh_mptcp_full_info, tcp_info) == 32, "tcp_info at 32");
_Static_assert(offsetof(struct csrh_mptcp_full_info, mptcp_info) == 40, "mptcp_info at 40");
_Static_assert(sizeof(struct csrh_mptcp_full_info) == 136, "mptcp_full_info is 136 bytes");

/* The fields of struct tcp_info (include/uapi/linux/tcp.h) srte reads, by offset. */
#define CSRH_TCPI_STATE_OFFSET          0
#define CSRH_TCPI_BACKOFF_OFFSET        4    /* __u8 tcpi_backoff: RTO backoffs in a row */
#define CSRH_TCPI_SND_MSS_OFFSET        16   /* __u32 tcpi_snd_mss: the sender's current MSS */
#define CSRH_TCPI_UNACKED_OFFSET        24   /* __u32 tcpi_unacked: packets in flight */
#define CSRH_TCPI_RTT_OFFSET            68   /* __u32 tcpi_rtt, microseconds */
#define CSRH_TCPI_BYTES_ACKED_OFFSET    120  /* __u64 */
#define CSRH_TCPI_BYTES_RECEIVED_OFFSET 128  /* __u64 */
#define CSRH_TCPI_BYTES_SENT_OFFSET     200  /* __u64 (4.19+) */
#define CSRH_TCPI_SIZE_WANTED           256  /* >= sizeof(struct tcp_info) on 6.18 (248) */

/* Checked against <linux/mptcp.h> and <linux/tcp.h> in csrh.c (those headers
 * clash with Glibc's netinet/tcp.h when imported into Swift). */

/* ---------------------------------------------------- legacy (out-of-tree) */
/*
 * draft-hesmans-mptcp-socket-00/02/03 on the bhesmans/mptcp kernel: socket
 * options at level IPPROTO_TCP on a plain TCP socket. An upstream kernel
 * answers each of them with ENOPROTOOPT, which is how srte detects them.
 */
#define CSRH_MPTCP_GET_SUB_IDS     66
#define CSRH_MPTCP_CLOSE_SUB_ID    67
#define CSRH_MPTCP_GET_SUB_TUPLE   68
#define CSRH_MPTCP_OPEN_SUB_TUPLE  69
#define CSRH_MPTCP_SUB_GETSOCKOPT  71
#define CSRH_MPTCP_SUB_SETSOCKOPT  72

/* One subflow's status. Under the x86-64/AArch64 SysV ABI (GCC and Clang
 * alike, so also the legacy kernel) the uint16_t bitfields share the 16-bit
 * unit that starts at `id`: they occupy bits 8-12 of it, i.e. bits 0-4 of
 * byte 1 (slave_sk = 0x01, fully_established = 0x02, attached = 0x04,
 * low_prio = 0x08, pre_established = 0x10). The struct is 2 bytes. */
struct csrh_mptcp_sub_status {
    uint8_t  id;
    uint16_t slave_sk:1,
             fully_established:1,
             attached:1,
             low_prio:1,
             pre_established:1;
};
_Static_assert(sizeof(struct csrh_mptcp_sub_status) == 2, "mptcp_sub_status is 2 bytes (bitfields in byte 1)");
_Static_assert(_Alignof(struct csrh_mptcp_sub_status) == 2, "mptcp_sub_status is 2-aligned");

/* MPTCP_GET_SUB_IDS: count, then that many statuses (from offset 2). */
struct csrh_mptcp_sub_ids {
    uint8_t sub_count;
    struct csrh_mptcp_sub_status sub_status[];
};
_Static_assert(sizeof(struct csrh_mptcp_sub_ids) == 2, "mptcp_sub_ids header is 2 bytes");
_Static_assert(offsetof(struct csrh_mptcp_sub_ids, sub_status) == 2, "sub_status at 2");

/* MPTCP_CLOSE_SUB_ID: draft-02 adds `how` (as shutdown(2)'s: 0 RD, 1 WR, 2 RDWR)
 * beside the id; RST is asked for with how = -1 on that kernel. */
struct csrh_mptcp_close_sub_id {
    uint8_t id;
    int32_t how;
};
_Static_assert(sizeof(struct csrh_mptcp_close_sub_id) == 8, "mptcp_close_sub_id is 8 bytes");
_Static_assert(offsetof(struct csrh_mptcp_close_sub_id, how) == 4, "how at 4");

/*
 * MPTCP_GET_SUB_TUPLE / MPTCP_OPEN_SUB_TUPLE.
 *
 * draft-03 Figure 10 declares { id; prio; addrs[0]; if_idx; ipv6_srh; }: a
 * zero-length array in the middle. addrs then has offset 2, if_idx offset 4 and
 * ipv6_srh offset 8, so the draft's own sample code (which writes two
 * sockaddrs at addrs) overwrites if_idx and ipv6_srh. Standard C also requires
 * a flexible array member to be last (C11 6.7.2.1p18).
 *
 * srte's layout keeps the draft's fields in the draft's order and moves the
 * address pair to the end, where its length (2 x sockaddr_in or 2 x
 * sockaddr_in6, told apart by sa_family) can vary without overlapping anything:
 *
 *   0  u8  id          subflow id (0 on open: the kernel assigns one)
 *   1  u8  prio        1 = backup (MP_PRIO B bit)
 *   2  u16 reserved    zero
 *   4  s32 if_idx      outgoing interface, 0 = any
 *   8  ptr ipv6_srh    user pointer to a struct ipv6_sr_hdr, NULL = none
 *  16  addrs[]         local sockaddr, then remote sockaddr
 *
 * optlen = 16 + 2*sizeof(sockaddr_in6) = 72 for IPv6, 16 + 2*16 = 48 for IPv4.
 */
struct csrh_mptcp_sub_tuple {
    uint8_t  id;
    uint8_t  prio;
    uint16_t reserved;
    int32_t  if_idx;
    struct csrh_ipv6_sr_hdr *ipv6_srh;
    uint8_t  addrs[] __attribute__((aligned(8)));
};
_Static_assert(offsetof(struct csrh_mptcp_sub_tuple, prio) == 1, "prio at 1");
_Static_assert(offsetof(struct csrh_mptcp_sub_tuple, if_idx) == 4, "if_idx at 4");
_Static_assert(offsetof(struct csrh_mptcp_sub_tuple, ipv6_srh) == 8, "ipv6_srh at 8");
_Static_assert(offsetof(struct csrh_mptcp_sub_tuple, addrs) == 16, "addrs last, at 16");
_Static_assert(sizeof(struct csrh_mptcp_sub_tuple) == 16, "mptcp_sub_tuple fixed part is 16 bytes");

/* MPTCP_SUB_GETSOCKOPT: a getsockopt(2) aimed at one subflow. */
struct csrh_mptcp_sub_getsockopt {
    uint8_t  id;
    int32_t  level;
    int32_t  optname;
    char     *optval;
    uint32_t *optlen;
};
_Static_assert(offsetof(struct csrh_mptcp_sub_getsockopt, level) == 4, "level at 4");
_Static_assert(offsetof(struct csrh_mptcp_sub_getsockopt, optname) == 8, "optname at 8");
_Static_assert(offsetof(struct csrh_mptcp_sub_getsockopt, optval) == 16, "optval at 16");
_Static_assert(offsetof(struct csrh_mptcp_sub_getsockopt, optlen) == 24, "optlen at 24");
_Static_assert(sizeof(struct csrh_mptcp_sub_getsockopt) == 32, "mptcp_sub_getsockopt is 32 bytes");

/* MPTCP_SUB_SETSOCKOPT: a setsockopt(2) aimed at one subflow. */
struct csrh_mptcp_sub_setsockopt {
    uint8_t  id;
    int32_t  level;
    int32_t  optname;
    char     *optval;
    uint32_t optlen;
};
_Static_assert(offsetof(struct csrh_mptcp_sub_setsockopt, optval) == 16, "optval at 16");
_Static_assert(offsetof(struct csrh_mptcp_sub_setsockopt, optlen) == 24, "optlen at 24");
_Static_assert(sizeof(struct csrh_mptcp_sub_setsockopt) == 32, "mptcp_sub_setsockopt is 32 bytes");

#endif
