/* Times N calls of the C API through the srte agent: hello (no socket) and get subflow ids
 * (an MPTCP connection's socket passed with each call); then, as root, the same facts read
 * directly — what the agent does for get subflow ids: getsockopt(SOL_MPTCP, MPTCP_FULL_INFO)
 * and one exact sock_diag lookup per subflow (INET_DIAG_INFO, _CONG, _TCLASS) on a netlink
 * socket kept open — and, for comparison, with a sock_diag TCP dump per address family
 * instead of the lookups. usage: calls N SERVER PORT */
#include <srte/mptcp_socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

#define SOL_MPTCP 284
#define MPTCP_FULL_INFO 4
struct full_info {   /* struct mptcp_full_info (Linux 6.5+), mptcp_info left as bytes */
    uint32_t size_tcpinfo_kernel, size_tcpinfo_user, size_sfinfo_kernel, size_sfinfo_user;
    uint32_t num_subflows, size_arrays_user;
    uint64_t subflow_info, tcp_info;
    uint8_t mptcp_info[96];
};

static int diag_dump(int nl, int family)
{
    struct { struct nlmsghdr h; struct inet_diag_req_v2 r; } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.r.sdiag_family = (uint8_t)family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_ext = 0x2a;   /* INET_DIAG_INFO, _CONG, _TCLASS: as the agent asks */
    req.r.idiag_states = 0xffffffff;
    if (send(nl, &req, sizeof req, 0) < 0) return -1;
    static char buf[65536];
    int sockets = 0;
    for (;;) {
        ssize_t n = recv(nl, buf, sizeof buf, 0);
        if (n < 0) return -1;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) return sockets;
            if (h->nlmsg_type == NLMSG_ERROR) { errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error; return -1; }
            sockets++;
        }
    }
}

/* One exact sock_diag request for the TCP socket local -> remote (sockaddr_storage each). */
static int diag_lookup(int nl, const uint8_t *local, const uint8_t *remote)
{
    struct { struct nlmsghdr h; struct inet_diag_req_v2 r; } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    sa_family_t family;
    memcpy(&family, local, sizeof family);
    req.r.sdiag_family = (uint8_t)family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_ext = 0x2a;
    req.r.idiag_states = 0xffffffff;
    req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (family == AF_INET6) {
        const struct sockaddr_in6 *l = (const void *)local, *r = (const void *)remote;
        req.r.id.idiag_sport = l->sin6_port;
        req.r.id.idiag_dport = r->sin6_port;
        memcpy(req.r.id.idiag_src, &l->sin6_addr, 16);
        memcpy(req.r.id.idiag_dst, &r->sin6_addr, 16);
    } else {
        const struct sockaddr_in *l = (const void *)local, *r = (const void *)remote;
        req.r.id.idiag_sport = l->sin_port;
        req.r.id.idiag_dport = r->sin_port;
        memcpy(req.r.id.idiag_src, &l->sin_addr, 4);
        memcpy(req.r.id.idiag_dst, &r->sin_addr, 4);
    }
    if (send(nl, &req, sizeof req, 0) < 0) return -1;
    static char buf[8192];
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    if (n < 0) return -1;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (!NLMSG_OK(h, (size_t)n)) { errno = EPROTO; return -1; }
    if (h->nlmsg_type == NLMSG_ERROR) { errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error; return -1; }
    return 0;
}

/* What the agent reads for get subflow ids, read directly (root for the full diag view).
 * mode 0: MPTCP_FULL_INFO only; 1: and one lookup per subflow; 2: and a dump per family. */
static int direct_ids(int fd, int nl, int mode)
{
    static uint8_t sf[8][264], ti[8][256];
    struct full_info fi;
    memset(&fi, 0, sizeof fi);
    fi.size_tcpinfo_user = sizeof ti[0];
    fi.size_sfinfo_user = sizeof sf[0];
    fi.size_arrays_user = 8;
    fi.subflow_info = (uintptr_t)sf;
    fi.tcp_info = (uintptr_t)ti;
    socklen_t l = sizeof fi;
    if (getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &fi, &l) < 0) return -1;
    if (mode == 1)
        for (uint32_t i = 0; i < fi.num_subflows && i < 8; i++)
            if (diag_lookup(nl, sf[i] + 8, sf[i] + 136) < 0) return -1;   /* struct mptcp_subflow_info: id, then addrs at 8 */
    if (mode == 2 && (diag_dump(nl, AF_INET) < 0 || diag_dump(nl, AF_INET6) < 0)) return -1;
    return (int)fi.num_subflows;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s N SERVER PORT\n", argv[0]); return 2; }
    int n = atoi(argv[1]);
    double a = now_ms();
    for (int i = 0; i < n; i++)
        if (srte_mptcp_hello(NULL) < 0) { fprintf(stderr, "hello: %s\n", srte_mptcp_last_error()); return 1; }
    double hello = (now_ms() - a) / n;

    int fd = socket(AF_INET6, SOCK_STREAM, 262);
    struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[3])) };
    inet_pton(AF_INET6, argv[2], &s.sin6_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&s, sizeof s) < 0) { perror("connect"); return 1; }
    struct srte_subflow_status ids[8];
    a = now_ms();
    for (int i = 0; i < n; i++)
        if (srte_mptcp_get_subflow_ids(fd, ids, 8) < 0) { fprintf(stderr, "ids: %s\n", srte_mptcp_last_error()); return 1; }
    double get = (now_ms() - a) / n;
    double direct = -1;
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl >= 0 && getuid() == 0) {
        double per[3];
        for (int mode = 0; mode < 3; mode++) {
            a = now_ms();
            for (int i = 0; i < n; i++)
                if (direct_ids(fd, nl, mode) < 0) { perror("direct: MPTCP_FULL_INFO / sock_diag"); return 1; }
            per[mode] = (now_ms() - a) / n;
        }
        direct = per[1];
        printf("direct_full_info_ms=%.3f direct_full_info_and_lookups_ms=%.3f direct_full_info_and_dumps_ms=%.3f\n", per[0], per[1], per[2]);
    }
    printf("calls=%d hello_ms=%.3f get_subflow_ids_ms=%.3f direct_ms=%.3f broker_adds_us=%.0f\n", n, hello, get, direct,
           direct < 0 ? -1 : (get - direct) * 1000);
    close(fd);
    return 0;
}
