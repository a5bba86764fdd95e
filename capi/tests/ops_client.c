/*
 * The per-subflow options, priority and events of srte's C API, as a program uses them. Used by
 * the test suite; prints one line per step. Started as root; with --as UID the program proper
 * runs as that user, and with --thief UID a second process of another user receives the
 * connection's socket (SCM_RIGHTS) and tries to change it:
 *
 *   events ok | events errno=NAME msg=...
 *   open ok id=N
 *   ids n=N id:flags ...              (E fully established, L low priority)
 *   event sub-established id=N lport=P after=MS   (after: since the call that caused it)
 *   setcc ok | setcc errno=NAME msg=...
 *   setmark ok | setmark errno=NAME msg=...
 *   measured applied-after=MS getsockopt-call=US   (informational: when the option showed, one call's time)
 *   getcc=NAME getmark=N tclass=N maxseg=N tcpinfo len=N state=N
 *   setprio7 ok | setprio7 errno=NAME msg=...   (SO_PRIORITY 7: root only)
 *   setints ok | setints errno=NAME msg=...     (SO_PRIORITY 5, TCP_NODELAY 1, SO_SNDBUF 65536)
 *   live prio=N nodelay=N sndbuf=N             (read under traffic through bpf_getsockopt)
 *   getfastopen errno=NAME msg=...
 *   set-initial ok | set-initial errno=NAME msg=...
 *   initial-cc=NAME
 *   prio ok
 *   event priority id=N low=N peer=N
 *   thief ...                         (the other user's attempts)
 *   holding                           (--hold MS: the test looks at the subflows meanwhile)
 *   event priority id=N low=N peer=1  (--peer-prio: the peer changed it during the hold)
 *   event sub-closed id=N error=N
 *   event closed
 *   events end
 *
 * usage: ops_client SERVER PORT [--as UID] [--thief UID] [--cc NAME] [--mark N] [--hold MS] [--peer-prio]
 */
#define _GNU_SOURCE
#include <srte/mptcp_socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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
    case ENOENT: return "ENOENT";
    case EAGAIN: return "EAGAIN";
    case ECONNREFUSED: return "ECONNREFUSED";
    default: return strerror(e);
    }
}

/* When the call whose event is awaited was made: events print how long after it they came. */
static struct timespec asked;

static double ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1e3 + (now.tv_nsec - t->tv_nsec) / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static void become(uid_t uid)
{
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0) {
        perror("setresuid");
        exit(1);
    }
}

/* "1:E- 2:EL" */
static void ids_line(const char *who, int fd, char *out, size_t cap)
{
    struct srte_subflow_status ids[16];
    int n = srte_mptcp_get_subflow_ids(fd, ids, 16);
    if (n < 0) {
        snprintf(out, cap, "ids errno=%s", errname(errno));
    } else {
        size_t at = (size_t)snprintf(out, cap, "ids n=%d", n);
        for (int i = 0; i < n && i < 16 && at < cap; i++)
            at += (size_t)snprintf(out + at, cap - at, " %u:%s%s", ids[i].id, ids[i].flags & SRTE_SUBFLOW_FULLY_ESTABLISHED ? "E" : "-",
                                   ids[i].flags & SRTE_SUBFLOW_LOW_PRIO ? "L" : "-");
    }
    printf("%s%s\n", who, out);
    fflush(stdout);
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

/* Waits up to `ms` for an event of `type` (and subflow `id` unless 0), printing every event read. */
static int await_event(int evfd, uint32_t type, uint32_t id, int ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int left = ms - (int)((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0) { printf("event timeout type=%u\n", type); fflush(stdout); return -1; }
        struct pollfd p = { .fd = evfd, .events = POLLIN };
        if (poll(&p, 1, left) <= 0) continue;
        struct srte_mptcp_event ev;
        int r = srte_mptcp_read_event(evfd, &ev);
        if (r < 0 && errno == EAGAIN) continue;
        if (r < 0) { printf("event errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error()); return -1; }
        if (r == 0) { printf("events end\n"); fflush(stdout); return type == 0 ? 0 : -1; }
        unsigned lport = ev.local.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ev.local)->sin6_port) : 0;
        switch (ev.type) {
        case SRTE_EVENT_ESTABLISHED: printf("event established"); break;
        case SRTE_EVENT_CLOSED: printf("event closed"); break;
        case SRTE_EVENT_SUBFLOW_ESTABLISHED: printf("event sub-established id=%u lport=%u low=%d", ev.id, lport, ev.low_prio); break;
        case SRTE_EVENT_SUBFLOW_CLOSED: printf("event sub-closed id=%u lport=%u error=%d", ev.id, lport, ev.error); break;
        case SRTE_EVENT_SUBFLOW_PRIORITY: printf("event priority id=%u low=%d peer=%d", ev.id, ev.low_prio, ev.by_peer); break;
        default: printf("event type=%u", ev.type);
        }
        printf(" after=%.1fms\n", ms_since(&asked));
        fflush(stdout);
        if (ev.type == type && (id == 0 || ev.id == id)) return 0;
    }
}

/* The other user: receives the socket, tries to change the connection, reports. */
static void thief(int chan, uid_t uid, const char *cc)
{
    become(uid);
    char b;
    union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(int))]; } control;
    struct iovec iov = { .iov_base = &b, .iov_len = 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    if (recvmsg(chan, &m, 0) != 1 || !CMSG_FIRSTHDR(&m)) { printf("thief no socket\n"); exit(1); }
    int fd;
    memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
    char line[256];
    ids_line("thief ", fd, line, sizeof line);
    if (srte_mptcp_sub_setsockopt(fd, 2, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
        printf("thief setcc errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    else
        printf("thief setcc ok\n");
    if (srte_mptcp_set_subflow_priority(fd, 2, 0) < 0)
        printf("thief prio errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    else
        printf("thief prio ok\n");
    fflush(stdout);
    close(fd);
    b = 1;
    if (write(chan, &b, 1) != 1) exit(1);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVER PORT [--as UID] [--thief UID] [--cc NAME] [--mark N] [--hold MS]\n", argv[0]);
        return 2;
    }
    int as = -1, thief_uid = -1, mark = -1, hold = 0, peer_prio = 0;
    const char *cc = "reno";
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--as") && i + 1 < argc) as = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--thief") && i + 1 < argc) thief_uid = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cc") && i + 1 < argc) cc = argv[++i];
        else if (!strcmp(argv[i], "--mark") && i + 1 < argc) mark = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc) hold = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--peer-prio")) peer_prio = 1;
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    int chan[2] = { -1, -1 };
    pid_t other = -1;
    if (thief_uid >= 0) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0) { perror("socketpair"); return 1; }
        fflush(stdout);
        other = fork();
        if (other == 0) { close(chan[0]); thief(chan[1], (uid_t)thief_uid, cc); }
        close(chan[1]);
    }
    if (as >= 0) become((uid_t)as);

    int fd = socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
    if (fd < 0) { perror("socket(IPPROTO_MPTCP)"); return 1; }
    struct sockaddr_in6 server = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET6, argv[1], &server.sin6_addr) != 1) { fprintf(stderr, "bad address %s\n", argv[1]); return 2; }
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0) { perror("connect"); return 1; }
    if (send_bytes(fd, 100000) < 0) return 1;
    sleep_ms(200);

    int evfd = srte_mptcp_event_fd(fd);
    if (evfd < 0) printf("events errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    else printf("events ok\n");
    fflush(stdout);

    struct srte_subflow_tuple t;
    memset(&t, 0, sizeof t);
    uint32_t id = 0;
    clock_gettime(CLOCK_MONOTONIC, &asked);
    if (srte_mptcp_open_subflow(fd, &t, NULL, &id) < 0) {
        printf("open errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        return 1;
    }
    printf("open ok id=%u\n", id);
    fflush(stdout);
    if (evfd >= 0) await_event(evfd, SRTE_EVENT_SUBFLOW_ESTABLISHED, id, 3000);
    char line[256];
    ids_line("", fd, line, sizeof line);

    if (srte_mptcp_sub_setsockopt(fd, id, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
        printf("setcc errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    else
        printf("setcc ok\n");
    if (mark >= 0) {
        if (srte_mptcp_sub_setsockopt(fd, id, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
            printf("setmark errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
        else
            printf("setmark ok\n");
    }
    /* Integer options (bpf_setsockopt in the agent's program): priority 7 needs
     * CAP_NET_ADMIN, so only root's is accepted; then 5, TCP_NODELAY and SO_SNDBUF. */
    int seven = 7, prio = 5, one = 1, sndbuf = 65536;
    if (srte_mptcp_sub_setsockopt(fd, id, SOL_SOCKET, SO_PRIORITY, &seven, sizeof seven) < 0)
        printf("setprio7 errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    else
        printf("setprio7 ok\n");
    if (srte_mptcp_sub_setsockopt(fd, id, SOL_SOCKET, SO_PRIORITY, &prio, sizeof prio) < 0 ||
        srte_mptcp_sub_setsockopt(fd, id, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        srte_mptcp_sub_setsockopt(fd, id, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
        printf("setints errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    else
        printf("setints ok\n");
    fflush(stdout);
    /* Options reach the live subflow at its next acknowledgment. */
    struct timespec set_at;
    clock_gettime(CLOCK_MONOTONIC, &set_at);
    double applied_ms = -1;
    char got_cc[16] = "";
    socklen_t l = sizeof got_cc;
    for (int i = 0; i < 10; i++) {
        send_bytes(fd, 300000);
        if (applied_ms < 0) {
            l = sizeof got_cc;
            if (srte_mptcp_sub_getsockopt(fd, id, IPPROTO_TCP, TCP_CONGESTION, got_cc, &l) == 0 && !strcmp(got_cc, cc)) applied_ms = ms_since(&set_at);
        }
        if (i == 5) {
            /* Read while acknowledgments arrive: the program answers with bpf_getsockopt. */
            int p = -1, nd = -1, sb = -1;
            socklen_t pl = sizeof p;
            if (srte_mptcp_sub_getsockopt(fd, id, SOL_SOCKET, SO_PRIORITY, &p, &pl) < 0 ||
                srte_mptcp_sub_getsockopt(fd, id, IPPROTO_TCP, TCP_NODELAY, &nd, &pl) < 0 ||
                srte_mptcp_sub_getsockopt(fd, id, SOL_SOCKET, SO_SNDBUF, &sb, &pl) < 0)
                printf("live errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
            else
                printf("live prio=%d nodelay=%d sndbuf=%d\n", p, nd, sb);
        }
        sleep_ms(100);
    }
    /* One call's round trip through the agent (an option read), over 100 calls. */
    struct timespec bench;
    clock_gettime(CLOCK_MONOTONIC, &bench);
    for (int i = 0; i < 100; i++) {
        int v;
        socklen_t vl = sizeof v;
        srte_mptcp_sub_getsockopt(fd, id, SOL_SOCKET, SO_MARK, &v, &vl);
    }
    printf("measured applied-after=%.0fms getsockopt-call=%.0fus\n", applied_ms, ms_since(&bench) * 10);
    memset(got_cc, 0, sizeof got_cc);
    l = sizeof got_cc;
    int got_mark = -1, tclass = -1, maxseg = -1;
    socklen_t il = sizeof got_mark;
    unsigned char ti[512];
    socklen_t tl = sizeof ti;
    if (srte_mptcp_sub_getsockopt(fd, id, IPPROTO_TCP, TCP_CONGESTION, got_cc, &l) < 0) printf("getcc errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    srte_mptcp_sub_getsockopt(fd, id, SOL_SOCKET, SO_MARK, &got_mark, &il);
    il = sizeof tclass;
    srte_mptcp_sub_getsockopt(fd, id, IPPROTO_IPV6, IPV6_TCLASS, &tclass, &il);
    il = sizeof maxseg;
    srte_mptcp_sub_getsockopt(fd, id, IPPROTO_TCP, TCP_MAXSEG, &maxseg, &il);
    if (srte_mptcp_sub_getsockopt(fd, id, IPPROTO_TCP, TCP_INFO, ti, &tl) < 0) printf("tcpinfo errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    printf("getcc=%.16s getmark=%d tclass=%d maxseg=%d tcpinfo len=%u state=%u\n", got_cc, got_mark, tclass, maxseg, (unsigned)tl, ti[0]);
    int fastopen = 0;
    il = sizeof fastopen;
    if (srte_mptcp_sub_getsockopt(fd, id, IPPROTO_TCP, TCP_FASTOPEN, &fastopen, &il) < 0)
        printf("getfastopen errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    /* The initial subflow too (it connected while the agent's program was attached). */
    if (srte_mptcp_sub_setsockopt(fd, 1, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0) {
        printf("set-initial errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    } else {
        printf("set-initial ok\n");
        char first_cc[16] = "";
        for (int i = 0; i < 40; i++) {
            socklen_t fl = sizeof first_cc;
            memset(first_cc, 0, sizeof first_cc);
            if (srte_mptcp_sub_getsockopt(fd, 1, IPPROTO_TCP, TCP_CONGESTION, first_cc, &fl) < 0 || !strcmp(first_cc, cc)) break;
            send_bytes(fd, 20000);
            sleep_ms(50);
        }
        printf("initial-cc=%.16s\n", first_cc);
    }
    fflush(stdout);

    clock_gettime(CLOCK_MONOTONIC, &asked);
    if (srte_mptcp_set_subflow_priority(fd, id, 1) < 0)
        printf("prio errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    else
        printf("prio ok\n");
    fflush(stdout);
    if (evfd >= 0) await_event(evfd, SRTE_EVENT_SUBFLOW_PRIORITY, id, 3000);
    ids_line("", fd, line, sizeof line);

    if (other > 0) {
        /* The other user gets the socket and tries; then this side looks again. */
        char b = 0;
        union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(int))]; } control;
        memset(&control, 0, sizeof control);
        struct iovec iov = { .iov_base = &b, .iov_len = 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        if (sendmsg(chan[0], &m, 0) != 1 || read(chan[0], &b, 1) != 1) { printf("thief lost\n"); return 1; }
        int st;
        waitpid(other, &st, 0);
        l = sizeof got_cc;
        memset(got_cc, 0, sizeof got_cc);
        srte_mptcp_sub_getsockopt(fd, id, IPPROTO_TCP, TCP_CONGESTION, got_cc, &l);
        printf("after-thief getcc=%.16s\n", got_cc);
        ids_line("after-thief ", fd, line, sizeof line);
    }

    if (hold > 0) {
        printf("holding\n");
        fflush(stdout);
        clock_gettime(CLOCK_MONOTONIC, &asked);
        for (int i = 0; i < hold / 100; i++) { send_bytes(fd, 20000); sleep_ms(100); }
        if (peer_prio && evfd >= 0) await_event(evfd, SRTE_EVENT_SUBFLOW_PRIORITY, id, 3000);
    }
    clock_gettime(CLOCK_MONOTONIC, &asked);
    if (srte_mptcp_close_subflow(fd, id, SHUT_RDWR) < 0) printf("close errno=%s msg=%s\n", errname(errno), srte_mptcp_last_error());
    if (evfd >= 0) await_event(evfd, SRTE_EVENT_SUBFLOW_CLOSED, id, 3000);
    clock_gettime(CLOCK_MONOTONIC, &asked);
    close(fd);
    if (evfd >= 0) {
        await_event(evfd, SRTE_EVENT_CLOSED, 0, 5000);
        await_event(evfd, 0, 0, 3000);
        close(evfd);
    }
    return 0;
}
