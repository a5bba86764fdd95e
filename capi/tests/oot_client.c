/*
 * A program written against the out-of-tree MPTCP kernel's <linux/tcp.h>: MPTCP_ENABLED,
 * MPTCP_SCHEDULER, MPTCP_PATH_MANAGER, MPTCP_INFO, and the subflow options of
 * draft-hesmans-mptcp-socket-03 with that header's structs (struct mptcp_sub_tuple { id;
 * addrs[] }, struct mptcp_close_sub_id { id }). It compiles on upstream Linux with
 * -I"$(srte run --print-compat-include)" and works under `srte run`.
 *
 * usage: oot_client SERVER PORT [--bytes N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int protocol(int fd)
{
    int p = -1;
    socklen_t l = sizeof p;
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &p, &l);
    return p;
}

static int enabled(int fd)
{
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, IPPROTO_TCP, MPTCP_ENABLED, &v, &l) < 0) return -errno;
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&t, NULL);
}

static int ids(int fd, int want)
{
    char buf[2 + 2 * 255];
    socklen_t len = sizeof buf;
    if (getsockopt(fd, IPPROTO_TCP, MPTCP_GET_SUB_IDS, buf, &len) < 0) {
        printf("ids errno=%d\n", errno);
        return -1;
    }
    struct mptcp_sub_ids *s = (struct mptcp_sub_ids *)buf;
    int found = 0;
    printf("ids n=%d", s->sub_count);
    for (int i = 0; i < s->sub_count; i++) {
        printf(" %d:%s", s->sub_status[i].id, s->sub_status[i].fully_established ? "E" : "-");
        if (s->sub_status[i].id == want && s->sub_status[i].fully_established) found = 1;
    }
    printf("\n");
    return found;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s SERVER PORT [--bytes N]\n", argv[0]); return 2; }
    long bytes = 1 << 20;
    for (int i = 3; i < argc; i++)
        if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = atol(argv[++i]);

    /* MPTCP_ENABLED on a fresh socket: off and on again, same descriptor, flags kept. */
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    printf("enabled=%d proto=%d\n", enabled(fd), protocol(fd));
    if (setsockopt(fd, IPPROTO_TCP, MPTCP_ENABLED, &zero, sizeof zero) < 0) printf("disable errno=%d\n", errno);
    int reuse = 0;
    socklen_t rl = sizeof reuse;
    getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, &rl);
    printf("disabled enabled=%d proto=%d nonblock=%d cloexec=%d reuseaddr=%d\n", enabled(fd), protocol(fd),
           !!(fcntl(fd, F_GETFL) & O_NONBLOCK), !!(fcntl(fd, F_GETFD) & FD_CLOEXEC), reuse);
    /* On this (now plain TCP) socket the shim manages, 45 with an int's length is upstream's
     * TCP_RTO_MIN_US, answered by the kernel. */
    int rto_us = -1;
    socklen_t rto_l = sizeof rto_us;
    int rto_rc = getsockopt(fd, IPPROTO_TCP, 45, &rto_us, &rto_l);
    printf("rto-min-tcp rc=%d us=%d\n", rto_rc, rto_us);
    if (setsockopt(fd, IPPROTO_TCP, MPTCP_ENABLED, &one, sizeof one) < 0) printf("enable errno=%d\n", errno);
    printf("reenabled enabled=%d proto=%d\n", enabled(fd), protocol(fd));
    close(fd);

    /* Scheduler and path manager: names; setting one is a hint. MPTCP_INFO before connect: the
     * kernel's answer for an unconnected socket. */
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    char name[MPTCP_SCHED_NAME_MAX + 1] = { 0 };
    socklen_t nl = MPTCP_SCHED_NAME_MAX;
    if (getsockopt(fd, IPPROTO_TCP, MPTCP_SCHEDULER, name, &nl) < 0) printf("scheduler errno=%d\n", errno);
    else printf("scheduler=%s\n", name);
    if (setsockopt(fd, IPPROTO_TCP, MPTCP_SCHEDULER, "roundrobin", 10) < 0) printf("set-scheduler errno=%d\n", errno);
    else printf("set-scheduler ok\n");
    if (setsockopt(fd, IPPROTO_TCP, MPTCP_SCHEDULER, "bad name with spaces", 16) < 0) printf("set-scheduler-bad errno=%d\n", errno);
    memset(name, 0, sizeof name);
    nl = MPTCP_PM_NAME_MAX;
    if (getsockopt(fd, IPPROTO_TCP, MPTCP_PATH_MANAGER, name, &nl) < 0) printf("pm errno=%d\n", errno);
    else printf("pm=%s\n", name);
    int is_mptcp = -1;
    socklen_t il = sizeof is_mptcp;
    if (getsockopt(fd, IPPROTO_TCP, 43 /* upstream TCP_IS_MPTCP */, &is_mptcp, &il) < 0) printf("is-mptcp errno=%d\n", errno);
    else printf("is-mptcp=%d\n", is_mptcp);
    struct mptcp_info info;
    memset(&info, 0, sizeof info);
    socklen_t infol = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, MPTCP_INFO, &info, &infol) < 0) printf("info errno=%d\n", errno);
    else printf("unconnected-info sub_len=%u\n", info.sub_len);
    int save = MPTCP_INFO_FLAG_SAVE_MASTER;
    if (setsockopt(fd, IPPROTO_TCP, MPTCP_INFO, &save, sizeof save) == 0) printf("info-flag ok\n");

    struct sockaddr_in6 server = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET6, argv[1], &server.sin6_addr);
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0) { perror("connect"); return 1; }
    if (setsockopt(fd, IPPROTO_TCP, MPTCP_ENABLED, &zero, sizeof zero) < 0) printf("late-disable errno=%d\n", errno);
    static char data[65536];
    if (send(fd, data, sizeof data, 0) < 0) { perror("send"); return 1; }
    ids(fd, 0);

    /* The out-of-tree struct mptcp_sub_tuple: the id, then the two sockaddrs at offset 1. */
    union { struct mptcp_sub_tuple t; unsigned char b[sizeof(struct mptcp_sub_tuple) + 2 * sizeof(struct sockaddr_in6)]; } tu;
    memset(&tu, 0, sizeof tu);
    struct sockaddr_in6 local, remote;
    socklen_t l = sizeof local;
    getsockname(fd, (struct sockaddr *)&local, &l);
    local.sin6_port = 0;
    l = sizeof remote;
    getpeername(fd, (struct sockaddr *)&remote, &l);
    memcpy(tu.t.addrs, &local, sizeof local);
    memcpy(tu.t.addrs + sizeof local, &remote, sizeof remote);
    socklen_t len = sizeof(struct mptcp_sub_tuple) + 2 * sizeof(struct sockaddr_in6);
    printf("tuple-optlen=%u\n", (unsigned)len);
    int rc = -1;
    for (int tries = 0; tries < 300; tries++) {
        rc = getsockopt(fd, IPPROTO_TCP, MPTCP_OPEN_SUB_TUPLE, &tu, &len);
        if (rc == 0 || errno != EAGAIN) break;
        sleep_ms(10);
    }
    if (rc < 0) {
        printf("open errno=%d %s\n", errno, strerror(errno));
    } else {
        int id = tu.t.id;
        printf("open ok id=%d\n", id);
        for (int tries = 0; tries < 300 && ids(fd, id) != 1; tries++) sleep_ms(10);
        union { struct mptcp_sub_tuple t; unsigned char b[sizeof(struct mptcp_sub_tuple) + 2 * sizeof(struct sockaddr_in6)]; } back;
        memset(&back, 0, sizeof back);
        back.t.id = (__u8)id;
        len = sizeof(struct mptcp_sub_tuple) + 2 * sizeof(struct sockaddr_in6);
        if (getsockopt(fd, IPPROTO_TCP, MPTCP_GET_SUB_TUPLE, &back, &len) < 0) {
            printf("tuple errno=%d\n", errno);
        } else {
            struct sockaddr_in6 bl, br;
            memcpy(&bl, back.t.addrs, sizeof bl);
            memcpy(&br, back.t.addrs + sizeof bl, sizeof br);
            char rs[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &br.sin6_addr, rs, sizeof rs);
            printf("tuple id=%d len=%u lport-set=%d remote=%s rport=%u\n", id, (unsigned)len, bl.sin6_port != 0, rs, ntohs(br.sin6_port));
        }
        /* MPTCP_SUB_SETSOCKOPT (a setsockopt) and MPTCP_SUB_GETSOCKOPT (a getsockopt). */
        struct mptcp_sub_setsockopt sso = { .id = (__u8)id, .level = IPPROTO_TCP, .optname = TCP_CONGESTION, .optval = "reno", .optlen = 4 };
        if (setsockopt(fd, IPPROTO_TCP, MPTCP_SUB_SETSOCKOPT, &sso, sizeof sso) < 0) printf("sub-set errno=%d\n", errno);
        else printf("sub-set ok\n");
        for (long left = bytes; left > 0; left -= sizeof data)
            if (send(fd, data, left < (long)sizeof data ? (size_t)left : sizeof data, 0) < 0) { perror("send"); return 1; }
        char cc[16] = "";
        unsigned int ccl = sizeof cc;
        struct mptcp_sub_getsockopt gso = { .id = (__u8)id, .level = IPPROTO_TCP, .optname = TCP_CONGESTION, .optval = cc, .optlen = &ccl };
        socklen_t gl = sizeof gso;
        /* The option reaches the live subflow at its next acknowledgment: keep data flowing. */
        int grc = -1;
        for (int tries = 0; tries < 40; tries++) {
            ccl = sizeof cc;
            grc = getsockopt(fd, IPPROTO_TCP, MPTCP_SUB_GETSOCKOPT, &gso, &gl);
            if (grc < 0 || !strcmp(cc, "reno")) break;
            if (send(fd, data, sizeof data, 0) < 0) { perror("send"); return 1; }
            sleep_ms(50);
        }
        if (grc < 0) printf("sub-get errno=%d\n", errno);
        else printf("sub-get cc=%.16s len=%u\n", cc, ccl);
        int fastopen = 0;
        unsigned int fol = sizeof fastopen;
        struct mptcp_sub_getsockopt fo = { .id = (__u8)id, .level = IPPROTO_TCP, .optname = TCP_FASTOPEN, .optval = (char *)&fastopen, .optlen = &fol };
        gl = sizeof fo;
        if (getsockopt(fd, IPPROTO_TCP, MPTCP_SUB_GETSOCKOPT, &fo, &gl) < 0) printf("sub-get-fastopen errno=%d\n", errno);

        /* MPTCP_INFO: the connection and both subflows. */
        struct mptcp_meta_info meta;
        struct tcp_info initial, subs[4];
        struct mptcp_sub_info sinfo[4];
        memset(&meta, 0, sizeof meta);
        memset(&initial, 0, sizeof initial);
        memset(subs, 0, sizeof subs);
        memset(sinfo, 0, sizeof sinfo);
        struct mptcp_info mi = {
            .tcp_info_len = sizeof(struct tcp_info), .sub_len = sizeof subs, .meta_len = sizeof meta,
            .sub_info_len = sizeof(struct mptcp_sub_info), .total_sub_info_len = sizeof sinfo,
            .meta_info = &meta, .initial = &initial, .subflows = subs, .subflow_info = sinfo,
        };
        socklen_t mil = sizeof mi;
        if (getsockopt(fd, IPPROTO_TCP, MPTCP_INFO, &mi, &mil) < 0) {
            printf("info errno=%d\n", errno);
        } else {
            unsigned n = mi.tcp_info_len ? mi.sub_len / mi.tcp_info_len : 0;
            printf("info subflows=%u sub_info=%u meta_len=%u state=%u initial-state=%u acked=%d received=%d",
                   n, mi.sub_info_len ? mi.total_sub_info_len / mi.sub_info_len : 0, mi.meta_len, meta.mptcpi_state,
                   initial.tcpi_state, meta.mptcpi_bytes_acked > 0, meta.mptcpi_bytes_received > 0);
            for (unsigned i = 0; i < n && i < 4; i++)
                printf(" sub%u=state:%u,lport-set:%d,rport:%u", i, subs[i].tcpi_state, sinfo[i].src_v6.sin6_port != 0, ntohs(sinfo[i].dst_v6.sin6_port));
            printf("\n");
        }
        struct mptcp_close_sub_id c = { .id = (__u8)id };
        len = sizeof c;
        printf("close-optlen=%u\n", (unsigned)len);
        if (getsockopt(fd, IPPROTO_TCP, MPTCP_CLOSE_SUB_ID, &c, &len) < 0) printf("close errno=%d\n", errno);
        else printf("close ok\n");
        for (int tries = 0; tries < 300; tries++) {
            char buf[2 + 2 * 255];
            socklen_t bl = sizeof buf;
            if (getsockopt(fd, IPPROTO_TCP, MPTCP_GET_SUB_IDS, buf, &bl) == 0 && buf[0] == 1) break;
            sleep_ms(10);
        }
        ids(fd, 0);
    }
    shutdown(fd, SHUT_WR);
    while (recv(fd, data, sizeof data, 0) > 0) {}
    close(fd);
    return 0;
}
