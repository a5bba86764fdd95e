/*
 * A program that uses srte's C API the way draft-hesmans-mptcp-socket-03 shows it:
 * list the subflows (Figure: MPTCP_GET_SUB_IDS), open one from a tuple carrying an SRH
 * whose Segment List[0] is :: (Figure 11: the subflow's destination), read its tuple back,
 * close it. Used by the test suite, as root and as other users; prints one line per step:
 *
 *   hello uid=U granted=N
 *   ids n=N id:flags ...
 *   open ok id=N | open errno=NAME msg=...
 *   tuple id=N lport=P srh=LEN seg1=...
 *   close ok | close errno=NAME msg=...
 *
 * usage: subflow_client SERVER PORT [--via SID] [--lport N] [--bytes N] [--close] [--rst] [--hold MS]
 *                      [--wait-subflows N] [--close-id ID]
 *
 * --wait-subflows N waits (3 s at most) until N subflows of the connection are fully
 * established (e.g. with the agent's own joins); --close-id ID then closes subflow ID before the open.
 */
#include <srte/mptcp_socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/seg6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static const char *errname(int e)
{
    switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ENOTCONN: return "ENOTCONN";
    case EXDEV: return "EXDEV";
    case EADDRINUSE: return "EADDRINUSE";
    default: return strerror(e);
    }
}

static void sleep_ms(int ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static int print_ids(int fd, uint32_t want_established)
{
    struct srte_subflow_status ids[16];
    int n = srte_mptcp_get_subflow_ids(fd, ids, 16);
    if (n < 0) {
        printf("ids errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        return -1;
    }
    int found = 0;
    printf("ids n=%d", n);
    for (int i = 0; i < n && i < 16; i++) {
        printf(" %u:%s%s", ids[i].id, ids[i].flags & SRTE_SUBFLOW_FULLY_ESTABLISHED ? "E" : "-",
               ids[i].flags & SRTE_SUBFLOW_LOW_PRIO ? "L" : "-");
        if (ids[i].id == want_established && (ids[i].flags & SRTE_SUBFLOW_FULLY_ESTABLISHED)) found = 1;
    }
    printf("\n");
    return found;
}

static int send_bytes(int fd, long total)
{
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    while (total > 0) {
        ssize_t n = send(fd, buf, total < (long)sizeof buf ? (size_t)total : sizeof buf, 0);
        if (n < 0) { perror("send"); return -1; }
        total -= n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVER PORT [--via SID] [--lport N] [--bytes N] [--close] [--rst]\n", argv[0]);
        return 2;
    }
    const char *via = NULL;
    int lport = 0, do_close = 0, rst = 0, hold = 0, wait_subflows = 0, close_id = 0;
    long bytes = 1 << 20;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--via") && i + 1 < argc) via = argv[++i];
        else if (!strcmp(argv[i], "--lport") && i + 1 < argc) lport = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = atol(argv[++i]);
        else if (!strcmp(argv[i], "--close")) do_close = 1;
        else if (!strcmp(argv[i], "--rst")) rst = 1;
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc) hold = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--wait-subflows") && i + 1 < argc) wait_subflows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--close-id") && i + 1 < argc) close_id = atoi(argv[++i]);
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    struct srte_agent_info info;
    if (srte_mptcp_hello(&info) < 0) {
        printf("hello errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        return 1;
    }
    printf("hello uid=%u granted=%d version=%u\n", info.uid, (int)info.subflows_granted, info.version_max);

    int fd = socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
    if (fd < 0) { perror("socket(IPPROTO_MPTCP)"); return 1; }
    struct sockaddr_in6 server = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET6, argv[1], &server.sin6_addr);
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0) { perror("connect"); return 1; }
    if (send_bytes(fd, 65536) < 0) return 1;   /* the peer's DSS makes the connection fully established */
    print_ids(fd, 0);
    if (wait_subflows) {
        struct srte_subflow_status ids[16];
        int up = 0;
        for (int tries = 0; tries < 300 && up < wait_subflows; tries++) {
            if (tries) sleep_ms(10);
            int n = srte_mptcp_get_subflow_ids(fd, ids, 16);
            up = 0;
            for (int k = 0; k < n && k < 16; k++) up += (ids[k].flags & SRTE_SUBFLOW_FULLY_ESTABLISHED) != 0;
        }
        print_ids(fd, 0);
    }
    if (close_id) {
        if (srte_mptcp_close_subflow(fd, (uint32_t)close_id, SHUT_RDWR) < 0)
            printf("close-id errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        else
            printf("close-id ok\n");
        struct srte_subflow_status ids[16];
        int n = 2, gone = 0;
        for (int tries = 0; tries < 300 && !gone; tries++) {
            sleep_ms(10);
            n = srte_mptcp_get_subflow_ids(fd, ids, 16);
            gone = 1;
            for (int k = 0; k < n && k < 16; k++) if (ids[k].id == (uint32_t)close_id) gone = 0;
        }
        print_ids(fd, 0);
    }

    /* Draft-03 Figure 11: an SRH with Segment List[0] = :: (the subflow's destination) and
     * Segment List[1] = the waypoint; Segments Left = 1. */
    union { struct ipv6_sr_hdr h; unsigned char bytes[8 + 2 * 16]; } srh;
    memset(&srh, 0, sizeof srh);
    srh.h.nexthdr = IPPROTO_TCP;
    srh.h.hdrlen = 4;          /* (8 + 2 * 16) / 8 - 1 */
    srh.h.type = 4;
    srh.h.segments_left = 1;
    srh.h.first_segment = 1;   /* Last Entry */
    if (via && inet_pton(AF_INET6, via, &srh.h.segments[1]) != 1) { fprintf(stderr, "bad SID %s\n", via); return 2; }

    struct srte_subflow_tuple t;
    memset(&t, 0, sizeof t);
    struct sockaddr_in6 *l = (struct sockaddr_in6 *)&t.local;
    l->sin6_family = AF_INET6;               /* address :: = the connection's */
    l->sin6_port = htons(lport);             /* 0 = the agent picks */
    struct sockaddr_in6 *r = (struct sockaddr_in6 *)&t.remote;
    r->sin6_family = AF_INET6;               /* :: and port 0 = the connection's peer */
    uint32_t id = 0;
    int rc = -1;
    for (int tries = 0; tries < 300; tries++) {
        rc = srte_mptcp_open_subflow(fd, &t, via ? &srh.h : NULL, &id);
        if (rc == 0 || errno != EAGAIN) break;
        sleep_ms(10);
    }
    if (rc < 0) {
        printf("open errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    } else {
        printf("open ok id=%u\n", id);
        int up = 0;
        for (int tries = 0; tries < 300 && up != 1; tries++) {
            if (tries) sleep_ms(10);
            up = print_ids(fd, id);
        }
        union { struct ipv6_sr_hdr h; unsigned char bytes[2048]; } back;
        struct srte_subflow_tuple bt;
        int len = srte_mptcp_get_subflow_tuple(fd, id, &bt, &back.h, sizeof back);
        if (len < 0) {
            printf("tuple errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        } else {
            char s0[INET6_ADDRSTRLEN] = "", s1[INET6_ADDRSTRLEN] = "";
            if (len >= 40) {
                inet_ntop(AF_INET6, &back.h.segments[0], s0, sizeof s0);
                inet_ntop(AF_INET6, &back.h.segments[1], s1, sizeof s1);
            }
            printf("tuple id=%u lport=%u srh=%d seg0=%s seg1=%s\n", id, ntohs(((struct sockaddr_in6 *)&bt.local)->sin6_port), len, s0, s1);
        }
    }
    if (send_bytes(fd, bytes) < 0) return 1;
    if (do_close && rc == 0) {
        if (srte_mptcp_close_subflow(fd, id, SHUT_RD) < 0)
            printf("close-rd errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        if (srte_mptcp_close_subflow(fd, id, rst ? -1 : SHUT_RDWR) < 0)
            printf("close errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        else
            printf("close ok\n");
        /* The last subflow: refused (the socket is closed with close()). */
        struct srte_subflow_status ids[16];
        int n = srte_mptcp_get_subflow_ids(fd, ids, 16);
        for (int tries = 0; tries < 300 && n > 1; tries++) {
            sleep_ms(10);
            n = srte_mptcp_get_subflow_ids(fd, ids, 16);
        }
        print_ids(fd, 0);
        if (n == 1 && srte_mptcp_close_subflow(fd, ids[0].id, SHUT_RDWR) < 0)
            printf("close-last errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        if (srte_mptcp_close_subflow(fd, 999999, SHUT_RDWR) < 0)
            printf("close-bad errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    }
    if (hold) {
        printf("holding\n");
        fflush(stdout);
        sleep_ms(hold);
    }
    shutdown(fd, SHUT_WR);
    char sink[4096];
    while (recv(fd, sink, sizeof sink, 0) > 0) {}
    close(fd);
    return 0;
}
