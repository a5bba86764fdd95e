/* Times N calls of the C API through the srte agent: hello (no socket) and get subflow ids
 * (an MPTCP connection's socket passed with each call); then, as root, the same facts read
 * directly — what the agent does for get subflow ids: getsockopt(SOL_MPTCP, MPTCP_FULL_INFO)
 * and one exact sock_diag lookup per subflow (INET_DIAG_INFO, _CONG, _TCLASS) on a netlink
 * socket kept open — and, for comparison, with a sock_diag TCP dump per address family
 * instead of the lookups. Then, as root, open → established: M subflows (M = N / 10, 20 to 200)
 * opened through the agent (srte_mptcp_open_subflow) alternating with M opened directly with
 * the path manager's SUBFLOW_CREATE over generic netlink (what the agent issues), each timed
 * until its call returns and until the new subflow is established (MPTCP_FULL_INFO polled the
 * same way for both), then closed again (SUBFLOW_DESTROY, not timed).
 * usage: calls N SERVER PORT */
#include <srte/mptcp_socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/inet_diag.h>
#include <linux/mptcp.h>
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

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_FULL_INFO
#define MPTCP_FULL_INFO 4
#endif
struct full_info_bytes {   /* struct mptcp_full_info (Linux 6.5+), mptcp_info left as bytes */
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
    struct full_info_bytes fi;
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

/* ---- open → established, through the agent and directly ---- */

static void sleep_us(long us)
{
    struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&t, NULL);
}

/* Appends attribute `type` with `len` bytes at `*at` of buf; returns its start. */
static struct nlattr *attr(char *buf, size_t *at, int type, const void *data, size_t len)
{
    struct nlattr *a = (struct nlattr *)(buf + *at);
    a->nla_type = (uint16_t)type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    if (len) memcpy((char *)a + NLA_HDRLEN, data, len);
    *at += NLA_ALIGN(a->nla_len);
    return a;
}

/* Sends a generic-netlink request (with NLM_F_ACK) and reads until its ack; 0, or -1 with errno. */
static int genl_request(int nl, char *buf, size_t len, int *family_out)
{
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    h->nlmsg_len = (uint32_t)len;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    static uint32_t seq = 1;
    h->nlmsg_seq = ++seq;
    if (send(nl, buf, len, 0) < 0) return -1;
    static char in[16384];
    for (;;) {
        ssize_t n = recv(nl, in, sizeof in, 0);
        if (n < 0) return -1;
        for (struct nlmsghdr *r = (struct nlmsghdr *)in; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
            if (r->nlmsg_seq != h->nlmsg_seq) continue;
            if (r->nlmsg_type == NLMSG_ERROR) {
                int e = ((struct nlmsgerr *)NLMSG_DATA(r))->error;
                if (e) { errno = -e; return -1; }
                return 0;
            }
            if (family_out && r->nlmsg_type == GENL_ID_CTRL) {
                struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(r) + GENL_HDRLEN);
                int left = (int)r->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
                for (; left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left;
                     left -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
                    if (a->nla_type == CTRL_ATTR_FAMILY_ID) { uint16_t id; memcpy(&id, (char *)a + NLA_HDRLEN, 2); *family_out = id; }
            }
        }
    }
}

static int pm_family(int nl)
{
    char buf[256] = { 0 };
    size_t at = NLMSG_HDRLEN;
    struct genlmsghdr *g = (struct genlmsghdr *)(buf + at);
    g->cmd = CTRL_CMD_GETFAMILY;
    g->version = 1;
    at += GENL_HDRLEN;
    attr(buf, &at, CTRL_ATTR_FAMILY_NAME, MPTCP_PM_NAME, sizeof MPTCP_PM_NAME);
    ((struct nlmsghdr *)buf)->nlmsg_type = GENL_ID_CTRL;
    int family = -1;
    if (genl_request(nl, buf, at, &family) < 0) return -1;
    return family;
}

/* SUBFLOW_CREATE (id > 0) or SUBFLOW_DESTROY (id == 0) of local → remote on connection `token`. */
static int pm_subflow(int nl, int family, uint32_t token, int id, const struct sockaddr_in6 *local, const struct sockaddr_in6 *remote)
{
    char buf[512] = { 0 };
    size_t at = NLMSG_HDRLEN;
    struct genlmsghdr *g = (struct genlmsghdr *)(buf + at);
    g->cmd = id ? MPTCP_PM_CMD_SUBFLOW_CREATE : MPTCP_PM_CMD_SUBFLOW_DESTROY;
    g->version = MPTCP_PM_VER;
    at += GENL_HDRLEN;
    ((struct nlmsghdr *)buf)->nlmsg_type = (uint16_t)family;
    attr(buf, &at, MPTCP_PM_ATTR_TOKEN, &token, 4);
    for (int side = 0; side < 2; side++) {
        const struct sockaddr_in6 *a = side ? remote : local;
        size_t nest = at;
        struct nlattr *n = attr(buf, &at, (side ? MPTCP_PM_ATTR_ADDR_REMOTE : MPTCP_PM_ATTR_ADDR) | NLA_F_NESTED, NULL, 0);
        uint16_t f = AF_INET6, port = ntohs(a->sin6_port);
        uint8_t lid = (uint8_t)id;
        attr(buf, &at, MPTCP_PM_ADDR_ATTR_FAMILY, &f, 2);
        if (!side && id) attr(buf, &at, MPTCP_PM_ADDR_ATTR_ID, &lid, 1);
        attr(buf, &at, MPTCP_PM_ADDR_ATTR_ADDR6, &a->sin6_addr, 16);
        attr(buf, &at, MPTCP_PM_ADDR_ATTR_PORT, &port, 2);
        n->nla_len = (uint16_t)(at - nest);
    }
    return genl_request(nl, buf, at, NULL);
}

/* The subflow with id `id` (> 0) or local port `port`: its TCP state (0 = not listed), and
 * how many subflows the connection lists. */
static int subflow_state(int fd, uint32_t id, uint16_t port, int *count)
{
    static uint8_t sf[16][264], ti[16][256];
    struct full_info_bytes fi;
    memset(&fi, 0, sizeof fi);
    fi.size_tcpinfo_user = sizeof ti[0];
    fi.size_sfinfo_user = sizeof sf[0];
    fi.size_arrays_user = 16;
    fi.subflow_info = (uintptr_t)sf;
    fi.tcp_info = (uintptr_t)ti;
    socklen_t l = sizeof fi;
    if (getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &fi, &l) < 0) return -1;
    if (count) *count = (int)fi.num_subflows;
    for (uint32_t i = 0; i < fi.num_subflows && i < 16; i++) {
        uint32_t sid;
        memcpy(&sid, sf[i], 4);
        const struct sockaddr_in6 *lo = (const void *)(sf[i] + 8);
        if ((id && sid == id) || (!id && ntohs(lo->sin6_port) == port)) return ti[i][0];
    }
    return 0;
}

/* Waits (at most 3 s) until the subflow is established; its time, or -1. */
static double wait_established(int fd, uint32_t id, uint16_t port, double start)
{
    for (;;) {
        int st = subflow_state(fd, id, port, NULL);
        if (st == 1) return now_ms() - start;
        if (st < 0 || now_ms() - start > 3000) return -1;
        sleep_us(20);
    }
}

/* Waits (at most 3 s) until the connection lists `n` subflows or fewer. */
static void wait_subflows(int fd, int n)
{
    double start = now_ms();
    int count = 0;
    while (subflow_state(fd, 0, 0, &count) >= 0 && count > n && now_ms() - start < 3000) sleep_us(500);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double mean(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s / n;
}

/* M opens each way, alternating; prints the figures. 0, or -1. */
static int open_bench(int fd, int m)
{
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    int family = nl < 0 ? -1 : pm_family(nl);
    if (family < 0) { perror("generic netlink mptcp_pm"); return -1; }
    struct mptcp_info info;
    socklen_t il = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &il) < 0) { perror("MPTCP_INFO"); return -1; }
    struct sockaddr_in6 local, remote;
    socklen_t al = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &al) < 0 || (al = sizeof remote, getpeername(fd, (struct sockaddr *)&remote, &al)) < 0) {
        perror("getsockname"); return -1;
    }
    unsigned next_port = (unsigned)getpid() * 7919u;
    double *ac = calloc((size_t)m, sizeof(double)), *ae = calloc((size_t)m, sizeof(double));
    double *dc = calloc((size_t)m, sizeof(double)), *de = calloc((size_t)m, sizeof(double));
    for (int i = 0; i < m; i++) {
        /* through the agent: the agent picks the local port */
        struct srte_subflow_tuple t;
        memset(&t, 0, sizeof t);
        uint32_t id = 0;
        double a = now_ms();
        int r;
        while ((r = srte_mptcp_open_subflow(fd, &t, NULL, &id)) < 0 && errno == EAGAIN && now_ms() - a < 3000) sleep_us(1000);
        if (r < 0) { fprintf(stderr, "open through the agent: %s\n", srte_mptcp_last_error()); return -1; }
        ac[i] = now_ms() - a;
        ae[i] = wait_established(fd, id, 0, a);
        if (ae[i] < 0) { fprintf(stderr, "subflow %u through the agent: not established within 3 s\n", id); return -1; }
        if (srte_mptcp_close_subflow(fd, id, SHUT_RDWR) < 0) { fprintf(stderr, "close: %s\n", srte_mptcp_last_error()); return -1; }
        wait_subflows(fd, 1);

        /* directly: SUBFLOW_CREATE from a port of 44000-59999 (one in TIME_WAIT from an
         * earlier run is skipped: EADDRINUSE, not timed) */
        struct sockaddr_in6 l = local;
        for (int tries = 0;; tries++) {
            l.sin6_port = htons((uint16_t)(44000 + next_port++ % 16000));
            a = now_ms();
            if (pm_subflow(nl, family, info.mptcpi_token, 10 + i % 100, &l, &remote) == 0) break;
            if (errno != EADDRINUSE || tries > 1000) { perror("SUBFLOW_CREATE"); return -1; }
        }
        dc[i] = now_ms() - a;
        de[i] = wait_established(fd, 0, ntohs(l.sin6_port), a);
        if (de[i] < 0) { fprintf(stderr, "direct subflow: not established within 3 s\n"); return -1; }
        if (pm_subflow(nl, family, info.mptcpi_token, 0, &l, &remote) < 0) { perror("SUBFLOW_DESTROY"); return -1; }
        wait_subflows(fd, 1);
    }
    double acm = mean(ac, m), aem = mean(ae, m), dcm = mean(dc, m), dem = mean(de, m);
    double acd = median(ac, m), aed = median(ae, m), dcd = median(dc, m), ded = median(de, m);
    printf("opens=%d agent_open_call_ms=%.3f direct_open_call_ms=%.3f agent_open_established_ms=%.3f direct_open_established_ms=%.3f "
           "(medians %.3f %.3f %.3f %.3f)\n", m, acm, dcm, aem, dem, acd, dcd, aed, ded);
    printf("open_broker_adds_us=%.0f open_established_broker_adds_us=%.0f (medians %.0f %.0f)\n",
           (acm - dcm) * 1000, (aem - dem) * 1000, (acd - dcd) * 1000, (aed - ded) * 1000);
    close(nl);
    return 0;
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
    /* data the peer acknowledges: the connection is fully established (subflows can join) */
    char data[1000] = { 0 };
    if (send(fd, data, sizeof data, 0) != (ssize_t)sizeof data) { perror("send"); return 1; }
    sleep_us(200000);
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
    fflush(stdout);
    if (getuid() == 0) {
        int m = n / 10 < 20 ? 20 : n / 10 > 200 ? 200 : n / 10;
        if (open_bench(fd, m) < 0) return 1;
    }
    close(fd);
    return 0;
}
