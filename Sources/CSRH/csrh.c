#include "CSRH.h"
#include <netinet/in.h>

/* The private copies in csrh_srh.h against the system uapi headers. */
#if __has_include(<linux/seg6.h>)
#include <linux/seg6.h>
_Static_assert(sizeof(struct ipv6_sr_hdr) == sizeof(struct csrh_ipv6_sr_hdr), "matches linux/seg6.h");
_Static_assert(offsetof(struct ipv6_sr_hdr, first_segment) == offsetof(struct csrh_ipv6_sr_hdr, first_segment), "matches linux/seg6.h");
_Static_assert(offsetof(struct ipv6_sr_hdr, tag) == offsetof(struct csrh_ipv6_sr_hdr, tag), "matches linux/seg6.h");
#endif
#if __has_include(<linux/seg6_hmac.h>)
#include <linux/seg6_hmac.h>
_Static_assert(sizeof(struct sr6_tlv_hmac) == sizeof(struct csrh_sr6_tlv_hmac), "matches linux/seg6_hmac.h");
#endif

#include <sched.h>

int csrh_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

#include <string.h>

int csrh_legacy_fill_sub_status(void *buf, int cap, uint8_t id, int slave_sk, int fully_established,
                                int attached, int low_prio, int pre_established)
{
    struct csrh_mptcp_sub_status s;
    if (cap < (int)sizeof s) return -1;
    memset(&s, 0, sizeof s);
    s.id = id;
    s.slave_sk = slave_sk != 0;
    s.fully_established = fully_established != 0;
    s.attached = attached != 0;
    s.low_prio = low_prio != 0;
    s.pre_established = pre_established != 0;
    memcpy(buf, &s, sizeof s);
    return sizeof s;
}

int csrh_legacy_fill_sub_tuple(void *buf, int cap, uint8_t id, uint8_t prio, int32_t if_idx, uint64_t srh,
                               const void *local, const void *remote, int addrlen)
{
    int need = (int)sizeof(struct csrh_mptcp_sub_tuple) + 2 * addrlen;
    if (cap < need) return -1;
    memset(buf, 0, need);
    struct csrh_mptcp_sub_tuple *t = buf;
    t->id = id;
    t->prio = prio;
    t->if_idx = if_idx;
    t->ipv6_srh = (struct csrh_ipv6_sr_hdr *)(uintptr_t)srh;
    memcpy(t->addrs, local, addrlen);
    memcpy(t->addrs + addrlen, remote, addrlen);
    return need;
}

int csrh_legacy_fill_close_sub_id(void *buf, int cap, uint8_t id, int32_t how)
{
    struct csrh_mptcp_close_sub_id c;
    if (cap < (int)sizeof c) return -1;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.how = how;
    memcpy(buf, &c, sizeof c);
    return sizeof c;
}

int csrh_legacy_fill_sub_getsockopt(void *buf, int cap, uint8_t id, int32_t level, int32_t optname,
                                    uint64_t optval, uint64_t optlen)
{
    struct csrh_mptcp_sub_getsockopt g;
    if (cap < (int)sizeof g) return -1;
    memset(&g, 0, sizeof g);
    g.id = id;
    g.level = level;
    g.optname = optname;
    g.optval = (char *)(uintptr_t)optval;
    g.optlen = (uint32_t *)(uintptr_t)optlen;
    memcpy(buf, &g, sizeof g);
    return sizeof g;
}

int csrh_legacy_fill_sub_setsockopt(void *buf, int cap, uint8_t id, int32_t level, int32_t optname,
                                    uint64_t optval, uint32_t optlen)
{
    struct csrh_mptcp_sub_setsockopt s;
    if (cap < (int)sizeof s) return -1;
    memset(&s, 0, sizeof s);
    s.id = id;
    s.level = level;
    s.optname = optname;
    s.optval = (char *)(uintptr_t)optval;
    s.optlen = optlen;
    memcpy(buf, &s, sizeof s);
    return sizeof s;
}

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

#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

int csrh_thread_set_euid(uint32_t euid)
{
    return syscall(SYS_setresuid, -1, euid, -1) == 0 ? 0 : errno;
}

#include <sys/socket.h>
#include <sys/un.h>

long csrh_recv_ancillary(int fd, void *buf, size_t len, int *fds, int maxfds, int *nfds,
                         int *has_creds, int32_t *pid, uint32_t *uid, uint32_t *gid, int *truncated)
{
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int) * 16) + CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    *nfds = 0;
    *has_creds = 0;
    *truncated = 0;
    ssize_t n;
    do { n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    if (m.msg_flags & MSG_CTRUNC) *truncated = 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_RIGHTS) {
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *p = (int *)CMSG_DATA(c);
            for (int i = 0; i < count; i++) {
                int f;
                memcpy(&f, p + i, sizeof f);
                if (!*truncated && *nfds < maxfds) fds[(*nfds)++] = f;
                else close(f);
            }
        } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(c), sizeof u);
            *has_creds = 1;
            *pid = u.pid;
            *uid = u.uid;
            *gid = u.gid;
        }
    }
    if (*truncated) {
        for (int i = 0; i < *nfds; i++) close(fds[i]);
        *nfds = 0;
    }
    return (long)n;
}

long csrh_send_ancillary(int fd, const void *buf, size_t len, const int *fds, int nfds, int with_creds)
{
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(sizeof(struct ucred))];
    } control;
    memset(&control, 0, sizeof control);
    if (nfds < 0 || nfds > 8) return -EINVAL;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    size_t used = 0;
    if (nfds > 0 || with_creds) {
        m.msg_control = control.bytes;
        m.msg_controllen = (nfds > 0 ? CMSG_SPACE(sizeof(int) * nfds) : 0) + (with_creds ? CMSG_SPACE(sizeof(struct ucred)) : 0);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        if (nfds > 0) {
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
            used += CMSG_SPACE(sizeof(int) * nfds);
            c = CMSG_NXTHDR(&m, c);
        }
        if (with_creds) {
            struct ucred u = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_CREDENTIALS;
            c->cmsg_len = CMSG_LEN(sizeof u);
            memcpy(CMSG_DATA(c), &u, sizeof u);
        }
    }
    (void)used;
    ssize_t n;
    do { n = sendmsg(fd, &m, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (long)n;
}

int csrh_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid)
{
    struct ucred u;
    socklen_t l = sizeof u;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &l) < 0) return -errno;
    *pid = u.pid;
    *uid = u.uid;
    *gid = u.gid;
    return 0;
}

#include <sys/syscall.h>
#include <unistd.h>
#include <linux/netlink.h>

int csrh_netlink_memberships(int32_t pid, int targetfd, int *protocol, uint32_t *groups, int words)
{
    int fd = targetfd;
    if (pid != 0) {
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) return -errno;
        fd = (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, 0);
        int e = errno;
        close(pidfd);
        if (fd < 0) return -e;
    }
    int domain = 0, r = 0;
    socklen_t l = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0) r = -errno;
    else if (domain != AF_NETLINK) r = -ENOTSOCK;
    else {
        l = sizeof *protocol;
        if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, protocol, &l) < 0) r = -errno;
        else {
            socklen_t gl = (socklen_t)(words * (int)sizeof(uint32_t));
            memset(groups, 0, (size_t)gl);
            if (getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &gl) < 0) r = -errno;
        }
    }
    if (pid != 0) close(fd);
    return r;
}
