/* Thin shims for calls Glibc's Swift overlay does not expose. */
#ifndef CSRH_SYS_H
#define CSRH_SYS_H

/* setns(fd, CLONE_NEWNET): enter the network namespace `fd` refers to. */
int csrh_setns_net(int fd);

#include <stddef.h>
#include <stdint.h>

/*
 * Reference encoders for the legacy structs (csrh_mptcp.h), written with the
 * C struct fields so the compiler decides the layout. Tests compare the Swift
 * codec's bytes with these. Each returns the number of bytes written, or -1
 * when `cap` is too small.
 */
int csrh_legacy_fill_sub_status(void *buf, int cap, uint8_t id, int slave_sk, int fully_established,
                                int attached, int low_prio, int pre_established);
int csrh_legacy_fill_sub_tuple(void *buf, int cap, uint8_t id, uint8_t prio, int32_t if_idx, uint64_t srh,
                               const void *local_sockaddr, const void *remote_sockaddr, int addrlen);
int csrh_legacy_fill_close_sub_id(void *buf, int cap, uint8_t id, int32_t how);
int csrh_legacy_fill_sub_getsockopt(void *buf, int cap, uint8_t id, int32_t level, int32_t optname,
                                    uint64_t optval, uint64_t optlen);
int csrh_legacy_fill_sub_setsockopt(void *buf, int cap, uint8_t id, int32_t level, int32_t optname,
                                    uint64_t optval, uint32_t optlen);

/*
 * The maps of the per-subflow socket options program (bpf/subflow_sockopt.bpf.c, a cgroup
 * sock_ops program): copies of its struct srte_key, srte_opts and srte_range.
 * flags: 1 SO_MARK, 2 IPV6_TCLASS, 4 TCP_CONGESTION; up to 8 integer options in ints[]
 * (level, name, value; the program records each one's error and the value read back).
 */
struct csrh_sockopt_key {
    uint32_t local[4], remote[4];   /* addresses in network byte order */
    uint32_t lport, rport;          /* host byte order */
    uint64_t netns;                 /* netns cookie; 0 = any namespace */
};
struct csrh_sockopt_int {
    int32_t level, name, value, effective, error;
};
struct csrh_sockopt_value {
    uint32_t gen, applied_gen, flags, mark;
    int32_t tclass, last_error;
    char cc[16];
    uint32_t nints;                  /* integer options in use in ints[] */
    int32_t read_level, read_name;   /* a read the program answers at its next callback */
    uint32_t read_gen, read_done_gen;
    int32_t read_value, read_error;
    uint32_t pad;
    struct csrh_sockopt_int ints[8];
};
/* lo-hi: the local ports whose sockets get RTT callbacks; mptcp = 1: every MPTCP subflow too. */
struct csrh_sockopt_range { uint32_t lo, hi, mptcp; };
_Static_assert(sizeof(struct csrh_sockopt_key) == 48, "srte_key");
_Static_assert(sizeof(struct csrh_sockopt_value) == 232, "srte_opts");
_Static_assert(sizeof(struct csrh_sockopt_range) == 12, "srte_range");

/* Sets the effective uid of the calling thread only (raw setresuid(-1, euid, -1);
 * glibc's seteuid() changes every thread). Returns 0 or an errno. For tests that
 * check what a non-root caller is refused, inside a root process. */
int csrh_thread_set_euid(uint32_t euid);

/*
 * Unix-socket ancillary data (SCM_RIGHTS, SCM_CREDENTIALS): the CMSG_* macros are not
 * reachable from Swift.
 *
 * csrh_recv_ancillary: one recvmsg(fd, MSG_DONTWAIT | MSG_CMSG_CLOEXEC). Up to `maxfds`
 * received descriptors go to `fds` (*nfds); any beyond that are closed at once, and so are
 * all of them when the control data was truncated (*truncated = 1, MSG_CTRUNC). When the
 * message carried SCM_CREDENTIALS, *has_creds = 1 and pid/uid/gid are set. Returns the
 * number of bytes read (0 = end of file) or -errno (-EAGAIN: nothing waiting).
 */
long csrh_recv_ancillary(int fd, void *buf, size_t len, int *fds, int maxfds, int *nfds,
                         int *has_creds, int32_t *pid, uint32_t *uid, uint32_t *gid, int *truncated);

/*
 * csrh_send_ancillary: one sendmsg(fd, MSG_NOSIGNAL) of `len` bytes with `nfds` descriptors
 * (SCM_RIGHTS, nfds <= 8) and, when with_creds, SCM_CREDENTIALS of the calling process.
 * Returns the number of bytes sent or -errno.
 */
long csrh_send_ancillary(int fd, const void *buf, size_t len, const int *fds, int nfds, int with_creds);

/*
 * The multicast groups a netlink socket belongs to (NETLINK_LIST_MEMBERSHIPS): of the
 * caller's descriptor `targetfd` when pid is 0, otherwise of process pid's descriptor,
 * duplicated with pidfd_getfd (root, or ptrace rights over pid). `groups` receives `words`
 * 32-bit words of the membership bitmap (bit g-1 of the bitmap = group g), *protocol the
 * netlink protocol. Returns 0, -ENOTSOCK when the descriptor is not a netlink socket, or
 * -errno.
 */
int csrh_netlink_memberships(int32_t pid, int targetfd, int *protocol, uint32_t *groups, int words);

/* SO_PEERCRED of a connected Unix socket: 0 or -errno. */
int csrh_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

#endif
