/*
 * libsrte-mptcp: a thin client of the srte agent's subflow protocol (Docs/AgentProtocol.md,
 * version 1). One Unix connection per thread, kept from call to call; per call one request
 * (the MPTCP socket as SCM_RIGHTS, the caller's SCM_CREDENTIALS) and one answer.
 */
#define _GNU_SOURCE
#include "srte/mptcp_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seg6.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

enum { OP_HELLO = 1, OP_IDS = 2, OP_OPEN = 3, OP_CLOSE = 4, OP_TUPLE = 5 };
enum { HEADER = 16, TUPLE = 48, MAX_BODY = 4096 };
enum { KEEP = 1 };   /* header flag: keep the connection for the next request */
static const unsigned char magic[4] = { 'S', 'R', 'T', 'A' };

static __thread char last_error[512];

const char *srte_mptcp_last_error(void) { return last_error; }

/* Sets errno and the thread's message; returns -1. */
static int fail(int e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    errno = e;
    return -1;
}

static void put16(unsigned char *p, uint16_t v) { v = htons(v); memcpy(p, &v, 2); }
static void put32(unsigned char *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static uint16_t get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return ntohs(v); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

const char *srte_mptcp_agent_socket(char *buf, size_t len)
{
    const char *env = getenv("SRTE_AGENT_SOCKET");
    if (env && *env) {
        if (strlen(env) + 1 > len) { errno = ENAMETOOLONG; return NULL; }
        strcpy(buf, env);
        return buf;
    }
    int probe = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0) probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return NULL;
    uint64_t cookie = 0;
    socklen_t l = sizeof cookie;
    int r = getsockopt(probe, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &l);
    int e = errno;
    close(probe);
    if (r < 0) { errno = e; return NULL; }
    int n = snprintf(buf, len, "/run/srte/agent-%llu.sock", (unsigned long long)cookie);
    if (n < 0 || (size_t)n >= len) { errno = ENAMETOOLONG; return NULL; }
    return buf;
}

/*
 * The control connection: one per thread, kept open from call to call (the agent serves
 * requests one after another on a connection, Docs/AgentProtocol.md). Each request still
 * carries the caller's SCM_CREDENTIALS and its socket, so nothing is granted to the
 * connection itself.
 *
 *  - A connection the agent closed (it restarted, or dropped an idle connection) is noticed
 *    when a request cannot be sent (EPIPE) or was reset unread (ECONNRESET): the request never
 *    reached the agent, so it is sent again once on a new connection.
 *  - A forked child never uses its parent's connection: a pthread_atfork handler closes the
 *    child's copies, and a connection opened by another process (pid check) is left alone.
 *  - A descriptor the program closed (and maybe reused for something else) is not taken for
 *    the connection: its inode is checked on each call.
 *  - A thread that moved to another network namespace (setns) reconnects when the agent
 *    answers EXDEV and the namespace's agent is another one; hello names the agent afresh.
 */
struct conn {
    int fd;          /* -1: none */
    pid_t pid;       /* the process that opened it */
    dev_t dev;       /* the socket's identity (fstat) */
    ino_t ino;
    unsigned long served;   /* answers read on it */
    int legacy;      /* the agent refused to keep connections (an older agent): one per call */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct conn *prev, *next;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;            /* every thread's, for the fork handler */
static pthread_key_t conn_key;
static int conn_key_ok;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;
static __thread struct conn *thread_conn;

/* The descriptor still is the connection's socket (the program may have closed it and got
 * the number back for another file). */
static int conn_ours(const struct conn *c)
{
    struct stat st;
    return c->fd >= 0 && fstat(c->fd, &st) == 0 && st.st_ino == c->ino && st.st_dev == c->dev;
}

static void conn_close(struct conn *c)
{
    if (c->pid == getpid() && conn_ours(c)) close(c->fd);
    c->fd = -1;
    c->served = 0;
}

/* Thread exit: the thread's connection is closed. */
static void conn_release(void *p)
{
    struct conn *c = p;
    pthread_mutex_lock(&conns_lock);
    if (c->prev) c->prev->next = c->next; else conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&conns_lock);
    conn_close(c);
    if (thread_conn == c) thread_conn = NULL;   /* a later call in another destructor starts afresh */
    free(c);
}

static void fork_prepare(void) { pthread_mutex_lock(&conns_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&conns_lock); }

/* In the child: every inherited connection is closed (this process's descriptors only);
 * the threads that held the others do not exist here. */
static void fork_child(void)
{
    for (struct conn *c = conns, *next; c; c = next) {
        next = c->next;
        if (conn_ours(c)) close(c->fd);
        c->fd = -1;
        c->served = 0;
        if (c != thread_conn) free(c);
    }
    conns = thread_conn;
    if (thread_conn) thread_conn->prev = thread_conn->next = NULL;
    pthread_mutex_init(&conns_lock, NULL);
}

static void conn_init(void)
{
    conn_key_ok = pthread_key_create(&conn_key, conn_release) == 0;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Unloaded (dlclose): no thread-exit handler may point into unmapped code. */
__attribute__((destructor)) static void conn_unload(void)
{
    if (!conn_key_ok) return;
    pthread_key_delete(conn_key);
    conn_key_ok = 0;
    pthread_mutex_lock(&conns_lock);
    for (struct conn *c = conns; c; c = c->next) conn_close(c);
    pthread_mutex_unlock(&conns_lock);
}

static struct conn *this_conn(void)
{
    if (thread_conn) return thread_conn;
    pthread_once(&conn_once, conn_init);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    pthread_mutex_lock(&conns_lock);
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    pthread_mutex_unlock(&conns_lock);
    if (conn_key_ok) pthread_setspecific(conn_key, c);
    thread_conn = c;
    return c;
}

/* The connection still is the one opened: same process, same socket behind the descriptor. */
static int conn_valid(struct conn *c)
{
    if (c->fd < 0) return 0;
    if (c->pid != getpid() || !conn_ours(c)) {
        c->fd = -1;      /* not ours (any more): left alone */
        c->served = 0;
        return 0;
    }
    return 1;
}

/* The agent's socket path: SRTE_AGENT_SOCKET, the connection's (when `fresh` is 0), or the
 * current network namespace's (a probe socket's cookie). */
static int agent_path(struct conn *c, int fresh, char *path, size_t len)
{
    const char *env = getenv("SRTE_AGENT_SOCKET");
    if (!(env && *env) && !fresh && c->fd >= 0) {
        memcpy(path, c->path, sizeof c->path);
        return 0;
    }
    if (!srte_mptcp_agent_socket(path, len))
        return fail(errno, "cannot name the srte agent's socket: %s", strerror(errno));
    return 0;
}

static int conn_open(struct conn *c, const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail(errno, "socket(AF_UNIX): %s", strerror(errno));
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, path, strlen(path) + 1);   /* fits: srte_mptcp_agent_socket checked */
    int r;
    do { r = connect(s, (struct sockaddr *)&a, sizeof a); } while (r < 0 && errno == EINTR);
    struct stat st;
    if (r < 0 || fstat(s, &st) < 0) {
        int e = errno;
        close(s);
        if (e == ENOENT || e == ECONNREFUSED)
            return fail(ECONNREFUSED, "no srte agent answers at %s: start `srte agent` (root) in this network namespace, or set SRTE_AGENT_SOCKET", path);
        return fail(e, "connect(%s): %s", path, strerror(e));
    }
    c->fd = s;
    c->pid = getpid();
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->served = 0;
    memcpy(c->path, path, strlen(path) + 1);
    return 0;
}

/*
 * Waiting for the answer: the call first polls its connection (recv with MSG_DONTWAIT,
 * yielding the CPU between tries) for up to SRTE_MPTCP_SPIN_US microseconds (default 300 when
 * more than one CPU is online, else 0), then sleeps in recv. A sleeping caller costs the agent a
 * cross-CPU wake-up when it answers, and the caller the time its CPU takes to wake: tens of
 * microseconds each on a virtual machine, more than the agent's own work for most requests.
 * Read once per process; 0 turns polling off, at most 100000.
 */
static long spin_ns;
static pthread_once_t spin_once = PTHREAD_ONCE_INIT;

static void spin_init(void)
{
    const char *env = getenv("SRTE_MPTCP_SPIN_US");
    long us = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 300 : 0;
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == 0 && v >= 0) us = v > 100000 ? 100000 : v;
    }
    spin_ns = us * 1000;
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

enum { SENT_NOT_READ = -2 };   /* the request provably never reached the agent: send it again */

/*
 * Sends the request `out` (with `fd` when >= 0) and reads one answer into `in`. Returns the
 * bytes of the answer, SENT_NOT_READ, or -1 with the error set. On anything but an answer the
 * connection is closed (a late answer must not be read as the next one's).
 */
static int exchange(struct conn *c, const unsigned char *out, size_t out_len, int fd, unsigned char *in, size_t cap, int retryable_eof)
{
    union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))]; } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = { .iov_base = (void *)out, .iov_len = out_len };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes };
    m.msg_controllen = (fd >= 0 ? CMSG_SPACE(sizeof(int)) : 0) + CMSG_SPACE(sizeof(struct ucred));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    if (fd >= 0) {
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        cm = CMSG_NXTHDR(&m, cm);
    }
    struct ucred u = { .pid = c->pid, .uid = getuid(), .gid = getgid() };
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof u);
    memcpy(CMSG_DATA(cm), &u, sizeof u);
    ssize_t n;
    do { n = sendmsg(c->fd, &m, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)out_len) {
        int e = n < 0 ? errno : EIO;
        conn_close(c);
        if (e == EPIPE || e == ECONNRESET || e == ENOTCONN) return SENT_NOT_READ;
        return fail(e, "sending the request to the srte agent: %s", strerror(e));
    }

    /* The answer: header and body, in one read as a rule (one request is outstanding on the
     * connection, so nothing else can follow the answer). */
    pthread_once(&spin_once, spin_init);
    long long spin_until = spin_ns > 0 ? now_ns() + spin_ns : 0;
    size_t got = 0;
    for (;;) {
        if (got >= HEADER && got >= HEADER + (size_t)get32(in + 8)) break;
        if (got == cap) { conn_close(c); return fail(EPROTO, "the srte agent's answer is longer (%u bytes) than expected", get32(in + 8)); }
        ssize_t r = recv(c->fd, in + got, cap - got, spin_until ? MSG_DONTWAIT : 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN && spin_until) {
            if (now_ns() >= spin_until) spin_until = 0;   /* from now on: sleep in recv */
            else sched_yield();                           /* (lets the agent run should it share this CPU) */
            continue;
        }
        if (r < 0) {
            int e = errno == EAGAIN ? ETIMEDOUT : errno;
            conn_close(c);
            /* reset with the request unread: the agent closed without reading it */
            if (e == ECONNRESET && got == 0) return SENT_NOT_READ;
            return fail(e, "no answer from the srte agent: %s", strerror(e));
        }
        if (r == 0) {
            conn_close(c);
            if (got == 0 && retryable_eof) return SENT_NOT_READ;
            return fail(got == 0 ? EAGAIN : EPROTO, got == 0 ? "the srte agent closed the connection without answering (busy or restarting?): retry"
                                                               : "the srte agent's answer was cut short");
        }
        got += (size_t)r;
        if (got >= 4 && memcmp(in, magic, 4) != 0) {
            conn_close(c);
            return fail(EPROTO, "the srte agent's answer is not a protocol frame");
        }
    }
    if (got != HEADER + (size_t)get32(in + 8)) {
        conn_close(c);
        return fail(EPROTO, "the srte agent sent more than its answer");
    }
    if (in[5] != out[5]) {
        conn_close(c);
        return fail(EPROTO, "the srte agent answered operation %u to a request of operation %u", in[5], out[5]);
    }
    c->served++;
    if (!(in[7] & KEEP)) conn_close(c);   /* the agent closes it after this answer */
    return (int)got;
}

/*
 * One request: op with `body` (and `fd` when >= 0). On success the answer's body goes to
 * `reply` (at most `cap` bytes) and its length is returned; on failure -1 with errno and
 * the message set.
 */
static int call(int op, int fd, const unsigned char *body, size_t body_len, unsigned char *reply, size_t cap)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    last_error[0] = 0;
    if (body_len > MAX_BODY) return fail(EMSGSIZE, "request body of %zu bytes: at most %d", body_len, MAX_BODY);
    struct conn *c = this_conn();
    if (!c) return fail(ENOMEM, "no memory for the connection to the srte agent");

    unsigned char out[HEADER + MAX_BODY];
    memcpy(out, magic, 4);
    out[4] = SRTE_MPTCP_PROTOCOL_VERSION;
    out[5] = (unsigned char)op;
    put16(out + 6, c->legacy ? 0 : KEEP);
    put32(out + 8, (uint32_t)body_len);
    put32(out + 12, 0);
    if (body_len) memcpy(out + HEADER, body, body_len);

    unsigned char in[HEADER + MAX_BODY + 2048];
    /* Requests that change nothing may also be sent again after the agent closed the
     * connection without answering (it stopped while serving them). */
    int idempotent = op == OP_HELLO || op == OP_IDS || op == OP_TUPLE;
    int n = -1;
    for (int attempt = 0, fallback = 0; attempt < 2; attempt++) {
        int valid = conn_valid(c);
        /* hello names the agent afresh: the thread may have moved to another namespace */
        if (agent_path(c, !valid || op == OP_HELLO || attempt > 0, path, sizeof path) < 0) return -1;
        if (valid && strcmp(path, c->path) != 0) { conn_close(c); valid = 0; }
        if (!valid && conn_open(c, path) < 0) return -1;
        int reused = c->served > 0;
        n = exchange(c, out, HEADER + body_len, fd, in, sizeof in, reused && idempotent);
        if (n == SENT_NOT_READ) {
            if (reused && attempt == 0) continue;     /* the agent closed a kept connection: once more */
            return fail(EAGAIN, "the srte agent closed the connection without reading the request (busy or restarting?): retry");
        }
        if (n < 0) return -1;
        /* An agent that does not keep connections refuses the flag (EINVAL, and its answer
         * does not carry it): the same request once more without it, and from now on one
         * connection per call on this thread. */
        if (!c->legacy && !fallback && (int32_t)get32(in + 12) == EINVAL && !(in[7] & KEEP)) {
            c->legacy = 1;
            fallback = 1;
            put16(out + 6, 0);
            attempt--;
            continue;
        }
        /* EXDEV: the socket lives in another namespace than this agent's; when the thread
         * moved to another namespace (its agent is another socket), ask that one. */
        if (attempt == 0 && fd >= 0 && (int32_t)get32(in + 12) == EXDEV && !(getenv("SRTE_AGENT_SOCKET") && *getenv("SRTE_AGENT_SOCKET"))) {
            char now[sizeof path];
            if (srte_mptcp_agent_socket(now, sizeof now) && strcmp(now, c->path) != 0) { conn_close(c); continue; }
        }
        break;
    }
    uint32_t len = get32(in + 8);
    int32_t err = (int32_t)get32(in + 12);
    if (err != 0) {
        size_t ml = len < sizeof last_error - 1 ? len : sizeof last_error - 1;
        memcpy(last_error, in + HEADER, ml);
        last_error[ml] = 0;
        errno = err;
        return -1;
    }
    if (len > cap) return fail(EPROTO, "the srte agent's answer is longer (%u bytes) than expected", len);
    memcpy(reply, in + HEADER, len);
    return (int)len;
}

int srte_mptcp_hello(struct srte_agent_info *info)
{
    unsigned char r[64];
    int n = call(OP_HELLO, -1, NULL, 0, r, sizeof r);
    if (n < 0) return -1;
    if (n < 28) return fail(EPROTO, "hello answer of %d bytes", n);
    if (info) {
        info->version_min = get16(r);
        info->version_max = get16(r + 2);
        info->pid = get32(r + 4);
        info->netns_cookie = get64(r + 8);
        info->uid = get32(r + 16);
        info->gid = get32(r + 20);
        info->subflows_granted = get32(r + 24);
    }
    return 0;
}

int srte_mptcp_get_subflow_ids(int fd, struct srte_subflow_status *ids, size_t max)
{
    unsigned char r[4 + 8 * 256];
    int n = call(OP_IDS, fd, NULL, 0, r, sizeof r);
    if (n < 0) return -1;
    if (n < 4) return fail(EPROTO, "subflow ids answer of %d bytes", n);
    uint32_t count = get32(r);
    if ((size_t)n != 4 + 8 * (size_t)count) return fail(EPROTO, "subflow ids answer of %d bytes for %u subflows", n, count);
    for (uint32_t i = 0; i < count && i < max; i++) {
        ids[i].id = get32(r + 4 + 8 * i);
        ids[i].flags = r[4 + 8 * i + 4];
    }
    return (int)count;
}

/* struct sockaddr (in or in6) → 16 bytes of IPv6 or v4-mapped address and a port. */
static int address(const struct sockaddr_storage *ss, int family, unsigned char addr[16], uint16_t *port)
{
    if (family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        memcpy(addr, &s6->sin6_addr, 16);
        *port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        memset(addr, 0, 16);
        if (s4->sin_addr.s_addr != 0) {
            addr[10] = addr[11] = 0xff;
            memcpy(addr + 12, &s4->sin_addr, 4);
        }
        *port = ntohs(s4->sin_port);
    }
    return 0;
}

static void sockaddr_from(struct sockaddr_storage *ss, int family, const unsigned char addr[16], uint16_t port)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, addr + 12, 4);
        s4->sin_port = htons(port);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, addr, 16);
        s6->sin6_port = htons(port);
    }
}

/* Decodes a tuple answer; returns the SRH length copied to srh (or -1). */
static int decode_tuple(const unsigned char *r, int n, struct srte_subflow_tuple *t, struct ipv6_sr_hdr *srh, size_t cap)
{
    if (n < TUPLE) return fail(EPROTO, "tuple answer of %d bytes", n);
    uint16_t srh_len = get16(r + 2);
    if (n != TUPLE + srh_len) return fail(EPROTO, "tuple answer of %d bytes with a %u-byte SRH", n, srh_len);
    if (t) {
        int family = r[1];
        t->low_prio = r[0] & 1;
        t->if_index = (int)get32(r + 4);
        sockaddr_from(&t->local, family, r + 12, get16(r + 8));
        sockaddr_from(&t->remote, family, r + 28, get16(r + 10));
    }
    if (srh_len && srh) {
        if (cap < srh_len) return fail(ERANGE, "the subflow's SRH is %u bytes; the buffer holds %zu", srh_len, cap);
        memcpy(srh, r + TUPLE, srh_len);
    }
    return srh_len;
}

int srte_mptcp_open_subflow(int fd, const struct srte_subflow_tuple *tuple, const struct ipv6_sr_hdr *srh, uint32_t *id)
{
    if (!tuple) return fail(EINVAL, "no tuple");
    int family = tuple->local.ss_family ? tuple->local.ss_family : tuple->remote.ss_family;
    if (family == 0) family = AF_INET6;
    if (family != AF_INET6 && family != AF_INET) return fail(EAFNOSUPPORT, "tuple family %d: AF_INET6 or AF_INET", family);
    if ((tuple->local.ss_family && tuple->local.ss_family != family) || (tuple->remote.ss_family && tuple->remote.ss_family != family))
        return fail(EINVAL, "the tuple's local and remote address families differ");
    size_t srh_len = srh ? ((size_t)srh->hdrlen + 1) * 8 : 0;
    unsigned char b[TUPLE + 2048];
    if (srh_len > 2048) return fail(EINVAL, "SRH of %zu bytes", srh_len);
    memset(b, 0, TUPLE);
    b[0] = tuple->low_prio ? 1 : 0;
    b[1] = (unsigned char)family;
    put16(b + 2, (uint16_t)srh_len);
    put32(b + 4, (uint32_t)tuple->if_index);
    uint16_t lport = 0, rport = 0;
    if (tuple->local.ss_family) address(&tuple->local, family, b + 12, &lport);
    if (tuple->remote.ss_family) address(&tuple->remote, family, b + 28, &rport);
    put16(b + 8, lport);
    put16(b + 10, rport);
    if (srh_len) memcpy(b + TUPLE, srh, srh_len);
    unsigned char r[4 + TUPLE + 2048];
    int n = call(OP_OPEN, fd, b, TUPLE + srh_len, r, sizeof r);
    if (n < 0) return -1;
    if (n < 4 + TUPLE) return fail(EPROTO, "open answer of %d bytes", n);
    if (id) *id = get32(r);
    return 0;
}

int srte_mptcp_close_subflow(int fd, uint32_t id, int how)
{
    unsigned char b[8], r[16];
    put32(b, id);
    put32(b + 4, (uint32_t)how);
    return call(OP_CLOSE, fd, b, sizeof b, r, sizeof r) < 0 ? -1 : 0;
}

int srte_mptcp_get_subflow_tuple(int fd, uint32_t id, struct srte_subflow_tuple *tuple, struct ipv6_sr_hdr *srh, size_t srh_cap)
{
    unsigned char b[4], r[TUPLE + 2048];
    put32(b, id);
    int n = call(OP_TUPLE, fd, b, sizeof b, r, sizeof r);
    if (n < 0) return -1;
    return decode_tuple(r, n, tuple, srh, srh_cap);
}

/* Operations 6-9 (Docs/AgentProtocol.md): per-subflow options, priority, events. */
enum { OP_GETOPT = 6, OP_SETOPT = 7, OP_PRIORITY = 8, OP_EVENTS = 9, EVENT = 48 };

int srte_mptcp_sub_getsockopt(int fd, uint32_t id, int level, int optname, void *optval, socklen_t *optlen)
{
    if (!optval || !optlen) return fail(EFAULT, "no buffer for the option's value");
    unsigned char b[16], r[MAX_BODY];
    put32(b, id);
    put32(b + 4, (uint32_t)level);
    put32(b + 8, (uint32_t)optname);
    put32(b + 12, (uint32_t)*optlen);
    int n = call(OP_GETOPT, fd, b, sizeof b, r, sizeof r);
    if (n < 0) return -1;
    size_t copied = (size_t)n < (size_t)*optlen ? (size_t)n : (size_t)*optlen;
    memcpy(optval, r, copied);
    *optlen = (socklen_t)copied;
    return 0;
}

int srte_mptcp_sub_setsockopt(int fd, uint32_t id, int level, int optname, const void *optval, socklen_t optlen)
{
    if (!optval && optlen) return fail(EFAULT, "no option value");
    if (optlen > MAX_BODY - 12) return fail(EINVAL, "option value of %u bytes: at most %d", (unsigned)optlen, MAX_BODY - 12);
    unsigned char b[MAX_BODY], r[16];
    put32(b, id);
    put32(b + 4, (uint32_t)level);
    put32(b + 8, (uint32_t)optname);
    if (optlen) memcpy(b + 12, optval, optlen);
    return call(OP_SETOPT, fd, b, 12 + (size_t)optlen, r, sizeof r) < 0 ? -1 : 0;
}

int srte_mptcp_set_subflow_priority(int fd, uint32_t id, int low_prio)
{
    unsigned char b[8], r[16];
    put32(b, id);
    put32(b + 4, low_prio ? 1 : 0);
    return call(OP_PRIORITY, fd, b, sizeof b, r, sizeof r) < 0 ? -1 : 0;
}

/*
 * The event stream: like call(), but the Unix connection stays open after the answer; the
 * agent writes one frame (op 9, 48-byte body) per event of the connection on it.
 */
int srte_mptcp_event_fd(int fd)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    last_error[0] = 0;
    if (fd < 0) return fail(EBADF, "no socket");
    if (!srte_mptcp_agent_socket(path, sizeof path))
        return fail(errno, "cannot name the srte agent's socket: %s", strerror(errno));
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail(errno, "socket(AF_UNIX): %s", strerror(errno));
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(s);
        if (e == ENOENT || e == ECONNREFUSED)
            return fail(ECONNREFUSED, "no srte agent answers at %s: start `srte agent` (root) in this network namespace, or set SRTE_AGENT_SOCKET", path);
        return fail(e, "connect(%s): %s", path, strerror(e));
    }
    unsigned char out[HEADER];
    memcpy(out, magic, 4);
    out[4] = SRTE_MPTCP_PROTOCOL_VERSION;
    out[5] = OP_EVENTS;
    put16(out + 6, 0);
    put32(out + 8, 0);
    put32(out + 12, 0);
    union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))]; } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = { .iov_base = out, .iov_len = HEADER };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    c = CMSG_NXTHDR(&m, c);
    struct ucred u = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof u);
    memcpy(CMSG_DATA(c), &u, sizeof u);
    ssize_t n;
    do { n = sendmsg(s, &m, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n != HEADER) {
        int e = n < 0 ? errno : EIO;
        close(s);
        return fail(e, "sending the request to the srte agent: %s", strerror(e));
    }
    /* The answer: a header, and on failure the message. */
    unsigned char in[HEADER + 512];
    size_t got = 0;
    while (got < HEADER || got < HEADER + get32(in + 8)) {
        size_t want = got < HEADER ? HEADER - got : HEADER + get32(in + 8) - got;
        if (got + want > sizeof in) want = sizeof in - got;
        if (want == 0) break;
        ssize_t r = recv(s, in + got, want, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? (errno == EAGAIN ? ETIMEDOUT : errno) : EAGAIN;
            close(s);
            return fail(e, r < 0 ? "no answer from the srte agent: %s" : "the srte agent closed the connection without answering (busy?): retry%s",
                        r < 0 ? strerror(e) : "");
        }
        got += (size_t)r;
    }
    if (memcmp(in, magic, 4) != 0) { close(s); return fail(EPROTO, "the srte agent's answer is not a protocol frame"); }
    int32_t err = (int32_t)get32(in + 12);
    if (err != 0) {
        size_t ml = got - HEADER < sizeof last_error - 1 ? got - HEADER : sizeof last_error - 1;
        memcpy(last_error, in + HEADER, ml);
        last_error[ml] = 0;
        close(s);
        errno = err;
        return -1;
    }
    struct timeval none = { 0 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    return s;
}

int srte_mptcp_read_event(int evfd, struct srte_mptcp_event *ev)
{
    if (!ev) return fail(EFAULT, "no event to fill");
    unsigned char f[HEADER + EVENT];
    int nonblocking = (fcntl(evfd, F_GETFL) & O_NONBLOCK) != 0;
    ssize_t n;
    /* A whole frame or nothing: peek first, so that a non-blocking reader never takes half. */
    do { n = recv(evfd, f, sizeof f, MSG_PEEK | (nonblocking ? MSG_DONTWAIT : MSG_WAITALL)); } while (n < 0 && errno == EINTR);
    if (n < 0) return fail(errno, "reading the event stream: %s", strerror(errno));
    if (n == 0) return 0;
    if ((size_t)n < sizeof f) {
        if (nonblocking) return fail(EAGAIN, "no whole event yet");
        return fail(EPROTO, "the event stream ended inside an event");
    }
    do { n = recv(evfd, f, sizeof f, MSG_WAITALL); } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof f) return fail(n < 0 ? errno : EPROTO, "reading the event stream");
    if (memcmp(f, magic, 4) != 0 || f[5] != OP_EVENTS || get32(f + 8) != EVENT)
        return fail(EPROTO, "the event stream carries something else than an event frame");
    const unsigned char *e = f + HEADER;
    memset(ev, 0, sizeof *ev);
    ev->type = e[0];
    ev->low_prio = e[1] & 1;
    ev->by_peer = (e[1] >> 1) & 1;
    ev->error = e[3];
    ev->id = get32(e + 4);
    if (e[2] == AF_INET || e[2] == AF_INET6) {
        sockaddr_from(&ev->local, e[2], e + 12, get16(e + 8));
        sockaddr_from(&ev->remote, e[2], e + 28, get16(e + 10));
    }
    return 1;
}
