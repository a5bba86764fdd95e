#include "CSRH.h"
#include <sched.h>

int csrh_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

/* Layout checks against the installed uapi headers (kept out of the public
 * headers: linux/tcp.h and netinet/tcp.h cannot both be imported into Swift). */
#if __has_include(<linux/mptcp.h>)
#include <linux/mptcp.h>
/* The 6.1 header's mptcp_info is a prefix of ours. */
_Static_assert(offsetof(struct mptcp_info, mptcpi_token) == offsetof(struct csrh_mptcp_info, mptcpi_token), "matches linux/mptcp.h");
_Static_assert(offsetof(struct mptcp_info, mptcpi_csum_enabled) == offsetof(struct csrh_mptcp_info, mptcpi_csum_enabled), "matches linux/mptcp.h");
_Static_assert(sizeof(struct mptcp_subflow_data) == sizeof(struct csrh_mptcp_subflow_data), "matches linux/mptcp.h");
_Static_assert(sizeof(struct mptcp_subflow_addrs) == sizeof(struct csrh_mptcp_subflow_addrs), "matches linux/mptcp.h");
#endif
#if __has_include(<linux/tcp.h>)
#include <linux/tcp.h>
_Static_assert(offsetof(struct tcp_info, tcpi_rtt) == CSRH_TCPI_RTT_OFFSET, "tcpi_rtt");
_Static_assert(offsetof(struct tcp_info, tcpi_bytes_acked) == CSRH_TCPI_BYTES_ACKED_OFFSET, "tcpi_bytes_acked");
_Static_assert(offsetof(struct tcp_info, tcpi_bytes_received) == CSRH_TCPI_BYTES_RECEIVED_OFFSET, "tcpi_bytes_received");
_Static_assert(offsetof(struct tcp_info, tcpi_bytes_sent) == CSRH_TCPI_BYTES_SENT_OFFSET, "tcpi_bytes_sent");
_Static_assert(sizeof(struct tcp_info) <= CSRH_TCPI_SIZE_WANTED, "tcp_info fits");
#endif

