/*
 * srte/mptcp_socket.h: the subflow operations of draft-hesmans-mptcp-socket-03 on
 * upstream Linux, for programs that are not root.
 *
 * Each call sends the program's MPTCP socket to the srte agent of the caller's network
 * namespace (`srte agent`, root) over its control socket, with the caller's credentials;
 * the agent runs the operation through the kernel's MPTCP path manager and answers. See
 * srte_mptcp_socket(3) and Docs/AgentProtocol.md.
 *
 * Link with -lsrte-mptcp (pkg-config --cflags --libs srte). Soname libsrte-mptcp.so.0.
 * Every function returns -1 and sets errno on failure; srte_mptcp_last_error() then holds
 * the agent's message. Thread-safe: one control connection per thread (kept from call to call,
 * reconnected when the agent restarted, never shared with a forked child), the message per thread.
 */
#ifndef SRTE_MPTCP_SOCKET_H
#define SRTE_MPTCP_SOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ipv6_sr_hdr;   /* <linux/seg6.h> (RFC 8754) */

/* The protocol version this library speaks. */
#define SRTE_MPTCP_PROTOCOL_VERSION 1

/* Bits of srte_subflow_status.flags (draft-03 struct mptcp_sub_status). */
#define SRTE_SUBFLOW_FULLY_ESTABLISHED 0x1
#define SRTE_SUBFLOW_LOW_PRIO          0x2

/* One subflow: its id (MPTCP_GET_SUB_IDS). */
struct srte_subflow_status {
    uint32_t id;
    uint32_t flags;   /* SRTE_SUBFLOW_FULLY_ESTABLISHED | SRTE_SUBFLOW_LOW_PRIO */
};

/*
 * A subflow's tuple (draft-03 struct mptcp_sub_tuple). In srte_mptcp_open_subflow():
 * local port 0 = the agent picks one; local address :: (or 0.0.0.0) = the connection's;
 * remote address :: and port 0 = the connection's. local and remote are struct sockaddr_in6
 * (or both struct sockaddr_in).
 */
struct srte_subflow_tuple {
    int low_prio;                  /* draft-03 prio: 1 = backup (low priority) */
    int if_index;                  /* 0 = any interface */
    struct sockaddr_storage local;
    struct sockaddr_storage remote;
};

/* What srte_mptcp_hello() reports. */
struct srte_agent_info {
    uint16_t version_min, version_max;   /* protocol versions the agent speaks */
    uint32_t pid;                        /* the agent's process id */
    uint64_t netns_cookie;               /* its network namespace (SO_NETNS_COOKIE) */
    uint32_t uid, gid;                   /* the caller as the agent saw it */
    uint32_t subflows_granted;           /* per connection; 0 none, UINT32_MAX everything (root) */
};

/* Checks that an agent answers; fills *info (may be NULL). */
int srte_mptcp_hello(struct srte_agent_info *info);

/*
 * MPTCP_GET_SUB_IDS: the subflows of the connection `fd`. Writes at most `max` entries to
 * `ids` and returns how many subflows there are (which may exceed `max`).
 */
int srte_mptcp_get_subflow_ids(int fd, struct srte_subflow_status *ids, size_t max);

/*
 * MPTCP_OPEN_SUB_TUPLE: opens a subflow of `fd` from `tuple`; `srh` (may be NULL) is the SRH
 * it carries (draft-03 Figure 11: Segment List[0] = :: stands for the subflow's
 * destination). Without an SRH, a connection the agent engineers gets the next unused path
 * of its rule. Returns once the SYN is on its way: *id (may be NULL) is the new subflow's
 * id; srte_mptcp_get_subflow_ids() shows when it is fully established.
 */
int srte_mptcp_open_subflow(int fd, const struct srte_subflow_tuple *tuple, const struct ipv6_sr_hdr *srh, uint32_t *id);

/*
 * MPTCP_CLOSE_SUB_ID: closes subflow `id` of `fd`. how = SHUT_RDWR: FIN; -1: RST.
 * SHUT_RD and SHUT_WR: EOPNOTSUPP. The connection's last subflow: EBUSY.
 */
int srte_mptcp_close_subflow(int fd, uint32_t id, int how);

/*
 * MPTCP_GET_SUB_TUPLE: the tuple of subflow `id` of `fd`. When the agent steers the subflow,
 * its SRH is copied to `srh` (`srh_cap` bytes; ERANGE if too small). Returns the SRH's length
 * (0: none).
 */
int srte_mptcp_get_subflow_tuple(int fd, uint32_t id, struct srte_subflow_tuple *tuple, struct ipv6_sr_hdr *srh, size_t srh_cap);

/*
 * MPTCP_SUB_GETSOCKOPT: option `optname` at `level` of subflow `id` of `fd`, as getsockopt(2)
 * returns it for a TCP socket (`*optlen` in: the buffer's size; out: the value's length,
 * truncated to the buffer). Readable: TCP_INFO (the subflow's struct tcp_info), TCP_CONGESTION,
 * TCP_MAXSEG (IPPROTO_TCP), SO_MARK (SOL_SOCKET), IPV6_TCLASS (IPPROTO_IPV6), IP_TOS (IPPROTO_IP)
 * from sock_diag, and
 * the integer options srte_mptcp_sub_setsockopt() sets, read by the agent's BPF program at the
 * subflow's next acknowledgment (EAGAIN when none comes within 100 ms and the agent never set
 * the option). Anything else: EOPNOTSUPP.
 */
int srte_mptcp_sub_getsockopt(int fd, uint32_t id, int level, int optname, void *optval, socklen_t *optlen);

/*
 * MPTCP_SUB_SETSOCKOPT: sets option `optname` at `level` of subflow `id` of `fd`. Settable:
 * SO_MARK (SOL_SOCKET; for a user other than root only the marks its grant names), IPV6_TCLASS
 * (IPPROTO_IPV6; IPv6 subflows), IP_TOS (IPPROTO_IP; IPv4 subflows), TCP_CONGESTION (IPPROTO_TCP; for a user other than root only those of
 * net.ipv4.tcp_allowed_congestion_control), and up to eight integer options: SO_PRIORITY (0-6
 * for a user other than root), SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_RCVLOWAT,
 * SO_MAX_PACING_RATE, TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT,
 * TCP_NOTSENT_LOWAT, TCP_WINDOW_CLAMP: what a BPF program can set on one subflow. The
 * agent's program applies it at the subflow's next acknowledgment, on IPv6 and IPv4 subflows
 * that connected while the agent ran (the initial subflow too); subflows of a connection made before
 * the agent started: EOPNOTSUPP. Only the connection's
 * owner (the uid that created the socket) or root may: EPERM otherwise.
 */
int srte_mptcp_sub_setsockopt(int fd, uint32_t id, int level, int optname, const void *optval, socklen_t optlen);

/*
 * Sets (low_prio = 1) or clears (0) the backup flag of subflow `id` of `fd`: the peer gets an
 * MP_PRIO; srte_mptcp_get_subflow_ids() shows SRTE_SUBFLOW_LOW_PRIO. Needs a grant (like open
 * and close) and the connection's ownership (EPERM).
 */
int srte_mptcp_set_subflow_priority(int fd, uint32_t id, int low_prio);

/* Event types (struct srte_mptcp_event.type). */
#define SRTE_EVENT_ESTABLISHED         1   /* the connection is established */
#define SRTE_EVENT_CLOSED              2   /* the connection is gone: the last event */
#define SRTE_EVENT_SUBFLOW_ESTABLISHED 3
#define SRTE_EVENT_SUBFLOW_CLOSED      4   /* error: the subflow's socket error (errno), or 0 */
#define SRTE_EVENT_SUBFLOW_PRIORITY    5   /* low_prio changed; by_peer: the peer's MP_PRIO */

/* One event of a connection. */
struct srte_mptcp_event {
    uint32_t type;                 /* SRTE_EVENT_* */
    uint32_t id;                   /* the subflow's id; 0: a connection event, or a subflow the agent
                                      cannot name (neither there at srte_mptcp_event_fd() nor opened
                                      through the agent since) */
    int low_prio;                  /* the subflow's backup flag, when the event carries it */
    int by_peer;                   /* SRTE_EVENT_SUBFLOW_PRIORITY: 1 = the peer changed it */
    int error;                     /* SRTE_EVENT_SUBFLOW_CLOSED: errno, 0 = closed cleanly */
    struct sockaddr_storage local; /* the subflow's addresses (family 0 for connection events) */
    struct sockaddr_storage remote;
};

/*
 * A descriptor on which the events of connection `fd` arrive (close(2) it when done): poll it
 * for POLLIN and read each event with srte_mptcp_read_event(). Only `fd`'s own connection's
 * events; the stream ends after SRTE_EVENT_CLOSED.
 */
int srte_mptcp_event_fd(int fd);

/*
 * Reads the next event from `evfd`. Returns 1 with *ev filled, 0 at the end of the stream,
 * -1 on error (EAGAIN: `evfd` is non-blocking and no whole event is there yet).
 */
int srte_mptcp_read_event(int evfd, struct srte_mptcp_event *ev);

/* The message of the calling thread's last failure ("" after success). */
const char *srte_mptcp_last_error(void);

/*
 * The agent's control socket for the caller's network namespace:
 * $SRTE_AGENT_SOCKET, else /run/srte/agent-<netns cookie>.sock. Returns `buf`, or NULL
 * (errno set) when it does not fit or the cookie cannot be read.
 */
const char *srte_mptcp_agent_socket(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
