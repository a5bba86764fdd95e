/*
 * libsrte-preload.so: the socket options of draft-hesmans-mptcp-socket-03 as the out-of-tree
 * kernel numbered them (getsockopt at IPPROTO_TCP: 66 MPTCP_GET_SUB_IDS, 67 MPTCP_CLOSE_SUB_ID,
 * 68 MPTCP_GET_SUB_TUPLE, 69 MPTCP_OPEN_SUB_TUPLE), for unmodified programs on upstream Linux.
 * `srte run -- PROGRAM` loads it with LD_PRELOAD. It
 *
 *  - makes the program's TCP stream sockets MPTCP (socket(AF_INET[6], SOCK_STREAM, 0 or
 *    IPPROTO_TCP) → IPPROTO_MPTCP; plain TCP again if MPTCP is unavailable; SRTE_PRELOAD_TCP=1
 *    turns this off), and
 *  - answers those getsockopt calls through the srte agent (libsrte-mptcp's protocol, compiled
 *    in), with the draft's structs in the layout srte documents for the legacy kernel
 *    (Sources/CSRH/include/csrh_mptcp.h: the address pair at the end of mptcp_sub_tuple).
 *
 * 71 MPTCP_SUB_GETSOCKOPT and 72 MPTCP_SUB_SETSOCKOPT (struct mptcp_sub_getsockopt /
 * mptcp_sub_setsockopt, accepted through getsockopt and setsockopt alike) go to
 * srte_mptcp_sub_getsockopt() / srte_mptcp_sub_setsockopt().
 *
 * The out-of-tree kernel's options 42 MPTCP_ENABLED, 43 MPTCP_SCHEDULER, 44 MPTCP_PATH_MANAGER
 * and 45 MPTCP_INFO (IPPROTO_TCP) clash with upstream's 42 TCP_AO_REPAIR, 43 TCP_IS_MPTCP,
 * 44 TCP_RTO_MAX_MS and 45 TCP_RTO_MIN_US. On the sockets the shim manages (the TCP stream
 * sockets it created, and every MPTCP socket) it answers them itself and never forwards them,
 * except getsockopt(43) and getsockopt(45) with optlen == sizeof(int), which are upstream's
 * TCP_IS_MPTCP and TCP_RTO_MIN_US. getsockopt(45) with the out-of-tree struct mptcp_info is
 * emulated from upstream's MPTCP_FULL_INFO (mptcp_info_emulated below). The table is in
 * Docs/CAPI.md. Every other call goes to the C library unchanged.
 */
#define _GNU_SOURCE
#include "srte/mptcp_socket.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

enum { GET_SUB_IDS = 66, CLOSE_SUB_ID = 67, GET_SUB_TUPLE = 68, OPEN_SUB_TUPLE = 69, SUB_GETSOCKOPT = 71, SUB_SETSOCKOPT = 72 };
enum { OOT_ENABLED = 42, OOT_SCHEDULER = 43, OOT_PATH_MANAGER = 44, OOT_INFO = 45, NAME_MAX_OOT = 16 };
enum { TUPLE_HEADER = 16 };

typedef int (*socket_fn)(int, int, int);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

static int real_socket(int domain, int type, int protocol)
{
    static socket_fn f;
    if (!f) f = (socket_fn)dlsym(RTLD_NEXT, "socket");
    return f(domain, type, protocol);
}

static int real_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    static getsockopt_fn f;
    if (!f) f = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
    return f(fd, level, name, val, len);
}

static int real_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    static setsockopt_fn f;
    if (!f) f = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
    return f(fd, level, name, val, len);
}

/*
 * The TCP stream sockets the shim created, by descriptor: the socket's inode, so that a
 * descriptor closed and reused for another socket is not mistaken for one of them (close()
 * is not intercepted). Descriptors from TRACKED on are known by their protocol only.
 */
enum { TRACKED = 4096 };
static unsigned long tracked[TRACKED];

static unsigned long inode_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static void track(int fd)
{
    if (fd >= 0 && fd < TRACKED) __atomic_store_n(&tracked[fd], inode_of(fd), __ATOMIC_RELAXED);
}

static int int_option(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    return real_getsockopt(fd, level, name, &v, &l) == 0 ? v : -1;
}

/* A socket the shim answers 42-45 on: one it created, or any MPTCP socket (accepted ones too). */
static int managed(int fd)
{
    if (int_option(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_MPTCP) return 1;
    if (fd < 0 || fd >= TRACKED) return 0;
    unsigned long ino = __atomic_load_n(&tracked[fd], __ATOMIC_RELAXED);
    return ino != 0 && ino == inode_of(fd);
}

__attribute__((visibility("default")))
int socket(int domain, int type, int protocol)
{
    const char *tcp = getenv("SRTE_PRELOAD_TCP");
    if ((domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_STREAM &&
        (protocol == 0 || protocol == IPPROTO_TCP) && !(tcp && *tcp == '1')) {
        int fd = real_socket(domain, type, IPPROTO_MPTCP);
        if (fd < 0 && errno != EPROTONOSUPPORT && errno != EINVAL && errno != ENOPROTOOPT) return -1;
        if (fd < 0) fd = real_socket(domain, type, protocol);
        track(fd);
        return fd;
    }
    return real_socket(domain, type, protocol);
}

/*
 * MPTCP_ENABLED = 0 / 1 on a socket that is neither bound nor connected: a new socket of the
 * other protocol (same domain, type, O_NONBLOCK and FD_CLOEXEC; the options listed below
 * copied when they differ from a fresh socket's) takes the descriptor's place with dup3().
 * A bound, listening or connected socket: EPERM, as the out-of-tree kernel (it allowed the
 * change in TCP_CLOSE only; a bound socket cannot be swapped without losing its address).
 */
static const struct { int level, name; } copied[] = {
    { SOL_SOCKET, SO_REUSEADDR }, { SOL_SOCKET, SO_REUSEPORT }, { SOL_SOCKET, SO_KEEPALIVE },
    { SOL_SOCKET, SO_PRIORITY }, { SOL_SOCKET, SO_MARK }, { SOL_SOCKET, SO_BROADCAST },
    { IPPROTO_TCP, TCP_NODELAY }, { IPPROTO_IPV6, IPV6_V6ONLY },
};

static int swap_protocol(int fd, int protocol)
{
    int domain = int_option(fd, SOL_SOCKET, SO_DOMAIN), type = int_option(fd, SOL_SOCKET, SO_TYPE);
    if (domain < 0 || type < 0) return -1;
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &al) < 0) return -1;
    in_port_t port = a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port : ((struct sockaddr_in *)&a)->sin_port;
    if (port != 0) { errno = EPERM; return -1; }   /* bound, listening or connected */
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0) return -1;
    int n = real_socket(domain, type | (fl & O_NONBLOCK ? SOCK_NONBLOCK : 0), protocol);
    if (n < 0) return -1;
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        if (copied[i].level == IPPROTO_IPV6 && domain != AF_INET6) continue;
        int old = int_option(fd, copied[i].level, copied[i].name);
        if (old < 0 || old == int_option(n, copied[i].level, copied[i].name)) continue;
        if (real_setsockopt(n, copied[i].level, copied[i].name, &old, sizeof old) < 0) {
            int e = errno;
            close(n);
            errno = e;
            return -1;
        }
    }
    struct linger lg;
    socklen_t ll = sizeof lg;
    if (real_getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &ll) == 0 && lg.l_onoff)
        real_setsockopt(n, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    char dev[64];
    socklen_t dl = sizeof dev;
    if (real_getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl) == 0 && dl > 0 && dev[0])
        real_setsockopt(n, SOL_SOCKET, SO_BINDTODEVICE, dev, dl);
    if (dup3(n, fd, fdfl & FD_CLOEXEC ? O_CLOEXEC : 0) < 0) {
        int e = errno;
        close(n);
        errno = e;
        return -1;
    }
    close(n);
    track(fd);
    return 0;
}

/* A zero-padded name of NAME_MAX_OOT bytes, copied as the out-of-tree kernel did: min(len, 16). */
static int put_name(const char *name, void *val, socklen_t *len)
{
    char padded[NAME_MAX_OOT];
    memset(padded, 0, sizeof padded);
    strncpy(padded, name, sizeof padded - 1);
    socklen_t n = *len < NAME_MAX_OOT ? *len : NAME_MAX_OOT;
    memcpy(val, padded, n);
    *len = n;
    return 0;
}

/* The path manager serving the namespace: net.mptcp.pm_type 1 is upstream's userspace path
 * manager, which the srte agent drives (the out-of-tree "netlink" path manager's successor). */
static const char *path_manager(void)
{
    FILE *f = fopen("/proc/sys/net/mptcp/pm_type", "re");
    int t = 0;
    if (f) {
        if (fscanf(f, "%d", &t) != 1) t = 0;
        fclose(f);
    }
    return t == 1 ? "netlink" : "default";
}

/*
 * MPTCP_INFO (45) of the out-of-tree kernel, from upstream's getsockopt(SOL_MPTCP,
 * MPTCP_FULL_INFO) (Linux 6.5+): the caller's struct mptcp_info names buffers (each optional)
 * and their lengths; like the out-of-tree kernel, each is filled up to its length, and the
 * lengths are written back. Docs/CAPI.md says where every field comes from.
 */
struct oot_meta_info {
    uint8_t state, retransmits, probes, backoff;
    uint32_t rto, unacked, last_data_sent, last_data_recv, last_ack_recv, total_retrans;
    uint64_t bytes_acked, bytes_received;
};

struct oot_sub_info {
    union { struct sockaddr src; struct sockaddr_in src_v4; struct sockaddr_in6 src_v6; };
    union { struct sockaddr dst; struct sockaddr_in dst_v4; struct sockaddr_in6 dst_v6; };
};

struct oot_mptcp_info {
    uint32_t tcp_info_len, sub_len, meta_len, sub_info_len, total_sub_info_len;
    struct oot_meta_info *meta_info;
    void *initial;
    void *subflows;
    struct oot_sub_info *subflow_info;
};

/* include/uapi/linux/mptcp.h as of 6.18 (the system's header may predate MPTCP_FULL_INFO). */
struct up_mptcp_info {
    uint8_t subflows, add_addr_signal, add_addr_accepted, subflows_max, add_addr_signal_max, add_addr_accepted_max;
    uint32_t flags, token;
    uint64_t write_seq, snd_una, rcv_nxt;
    uint8_t local_addr_used, local_addr_max, csum_enabled;
    uint32_t retransmits;
    uint64_t bytes_retrans, bytes_sent, bytes_received, bytes_acked;
    uint8_t subflows_total, reserved[3];
    uint32_t last_data_sent, last_data_recv, last_ack_recv;
};
_Static_assert(sizeof(struct up_mptcp_info) == 96, "struct mptcp_info is 96 bytes on 6.18");

struct up_subflow_info {
    uint32_t id;
    struct sockaddr_storage local, remote;
};

struct up_full_info {
    uint32_t size_tcpinfo_kernel, size_tcpinfo_user, size_sfinfo_kernel, size_sfinfo_user, num_subflows, size_arrays_user;
    uint64_t subflow_info, tcp_info;
    struct up_mptcp_info mptcp_info;
};
_Static_assert(sizeof(struct up_full_info) == 136, "struct mptcp_full_info is 136 bytes");

enum { SOL_MPTCP_UP = 284, MPTCP_FULL_INFO_UP = 4, INFO_MAX_SUBFLOWS = 64, TCPI_STRIDE = 256 };

static uint32_t tcpi32(const unsigned char *t, size_t at) { uint32_t v; memcpy(&v, t + at, 4); return v; }

static int mptcp_info_emulated(int fd, void *val, socklen_t *len)
{
    struct oot_mptcp_info mi;
    if (*len < (socklen_t)sizeof mi) { errno = EINVAL; return -1; }
    memcpy(&mi, val, sizeof mi);
    static __thread struct up_subflow_info sfi[INFO_MAX_SUBFLOWS];
    static __thread unsigned char tcpi[INFO_MAX_SUBFLOWS][TCPI_STRIDE];
    struct up_full_info fi;
    memset(&fi, 0, sizeof fi);
    memset(tcpi, 0, sizeof tcpi);
    fi.size_tcpinfo_user = TCPI_STRIDE;
    fi.size_sfinfo_user = sizeof(struct up_subflow_info);
    fi.size_arrays_user = INFO_MAX_SUBFLOWS;
    fi.subflow_info = (uint64_t)(uintptr_t)sfi;
    fi.tcp_info = (uint64_t)(uintptr_t)tcpi;
    socklen_t fl = sizeof fi;
    if (real_getsockopt(fd, SOL_MPTCP_UP, MPTCP_FULL_INFO_UP, &fi, &fl) < 0) return -1;
    unsigned n = fi.num_subflows < INFO_MAX_SUBFLOWS ? fi.num_subflows : INFO_MAX_SUBFLOWS;
    /* The first subflow (id 1), when it is still there: the out-of-tree "master". */
    int first = -1;
    for (unsigned i = 0; i < n; i++) if (sfi[i].id == 1) first = (int)i;
    uint32_t info_len = mi.tcp_info_len < fi.size_tcpinfo_kernel ? mi.tcp_info_len : fi.size_tcpinfo_kernel;
    if (info_len > TCPI_STRIDE) info_len = TCPI_STRIDE;

    if (mi.meta_info) {
        struct oot_meta_info m;
        memset(&m, 0, sizeof m);
        const unsigned char *lead = n ? tcpi[first >= 0 ? first : 0] : NULL;
        if (lead) {
            m.state = lead[0];          /* tcpi_state of the first subflow */
            m.probes = lead[3];
            m.backoff = lead[4];
            m.rto = tcpi32(lead, 8);
        }
        m.retransmits = fi.mptcp_info.retransmits > 255 ? 255 : (uint8_t)fi.mptcp_info.retransmits;
        for (unsigned i = 0; i < n; i++) {
            m.unacked += tcpi32(tcpi[i], 24);         /* tcpi_unacked */
            m.total_retrans += tcpi32(tcpi[i], 100);  /* tcpi_total_retrans */
        }
        m.last_data_sent = fi.mptcp_info.last_data_sent;
        m.last_data_recv = fi.mptcp_info.last_data_recv;
        m.last_ack_recv = fi.mptcp_info.last_ack_recv;
        m.bytes_acked = fi.mptcp_info.bytes_acked;
        m.bytes_received = fi.mptcp_info.bytes_received;
        uint32_t ml = mi.meta_len < sizeof m ? mi.meta_len : (uint32_t)sizeof m;
        memcpy(mi.meta_info, &m, ml);
        mi.meta_len = ml;
    }
    if (mi.initial) {
        if (first >= 0) memcpy(mi.initial, tcpi[first], info_len);
        mi.tcp_info_len = info_len;
    }
    if (mi.subflows) {
        uint32_t left = mi.sub_len, written = 0;
        unsigned char *p = mi.subflows;
        for (unsigned i = 0; i < n && left > 0; i++) {
            uint32_t l = left < info_len ? left : info_len;
            memcpy(p, tcpi[i], l);
            p += l;
            left -= l;
            written += l;
        }
        mi.sub_len = written;
    }
    if (mi.subflow_info) {
        uint32_t one = mi.sub_info_len < sizeof(struct oot_sub_info) ? mi.sub_info_len : (uint32_t)sizeof(struct oot_sub_info);
        uint32_t left = mi.total_sub_info_len, written = 0;
        unsigned char *p = (unsigned char *)mi.subflow_info;
        for (unsigned i = 0; i < n && left > 0 && one > 0; i++) {
            struct oot_sub_info s;
            memset(&s, 0, sizeof s);
            if (sfi[i].local.ss_family == AF_INET) {
                memcpy(&s.src_v4, &sfi[i].local, sizeof s.src_v4);
                memcpy(&s.dst_v4, &sfi[i].remote, sizeof s.dst_v4);
            } else {
                memcpy(&s.src_v6, &sfi[i].local, sizeof s.src_v6);
                memcpy(&s.dst_v6, &sfi[i].remote, sizeof s.dst_v6);
            }
            uint32_t l = left < one ? left : one;
            memcpy(p, &s, l);
            p += l;
            left -= l;
            written += l;
        }
        mi.sub_info_len = one;
        mi.total_sub_info_len = written;
    }
    memcpy(val, &mi, sizeof mi);
    *len = sizeof mi;
    return 0;
}

static int oot_getsockopt(int fd, int name, void *val, socklen_t *len)
{
    switch (name) {
    case OOT_ENABLED: {
        if (*len < (socklen_t)sizeof(int)) { errno = EINVAL; return -1; }
        int on = int_option(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_MPTCP;
        memcpy(val, &on, sizeof on);
        *len = sizeof on;
        return 0;
    }
    case OOT_SCHEDULER:
        /* upstream's MPTCP has one packet scheduler */
        return put_name("default", val, len);
    case OOT_PATH_MANAGER:
        return put_name(path_manager(), val, len);
    default:   /* OOT_INFO: see Docs/CAPI.md (upstream's getsockopt(SOL_MPTCP, MPTCP_FULL_INFO)) */
        return mptcp_info_emulated(fd, val, len);
    }
}

static int oot_setsockopt(int fd, int name, const void *val, socklen_t len)
{
    switch (name) {
    case OOT_ENABLED: {
        if (len < (socklen_t)sizeof(int)) { errno = EINVAL; return -1; }
        int on;
        memcpy(&on, val, sizeof on);
        int want = on ? IPPROTO_MPTCP : IPPROTO_TCP;
        int now = int_option(fd, SOL_SOCKET, SO_PROTOCOL);
        if (now < 0) return -1;
        return now == want ? 0 : swap_protocol(fd, want);
    }
    case OOT_SCHEDULER:
    case OOT_PATH_MANAGER: {
        /* a hint: a name of at most 16 bytes (NUL-terminated or not), accepted and not applied */
        if (len < 1 || len > NAME_MAX_OOT) { errno = EINVAL; return -1; }
        const char *c = val;
        for (socklen_t i = 0; i < len && c[i]; i++)
            if (c[i] < 0x21 || c[i] > 0x7e) { errno = EINVAL; return -1; }
        return 0;
    }
    default: {   /* OOT_INFO: the flag MPTCP_INFO_FLAG_SAVE_MASTER, a hint */
        if (len < (socklen_t)sizeof(int)) { errno = EINVAL; return -1; }
        return 0;
    }
    }
}

/* sockaddr_in / sockaddr_in6 at `p`; its length, or 0 for another family. */
static size_t sockaddr_length(const unsigned char *p, size_t room)
{
    sa_family_t family;
    if (room < sizeof family) return 0;
    memcpy(&family, p, sizeof family);
    if (family == AF_INET6 && room >= sizeof(struct sockaddr_in6)) return sizeof(struct sockaddr_in6);
    if (family == AF_INET && room >= sizeof(struct sockaddr_in)) return sizeof(struct sockaddr_in);
    return 0;
}

static int get_sub_ids(int fd, unsigned char *out, socklen_t *len)
{
    struct srte_subflow_status ids[255];
    int n = srte_mptcp_get_subflow_ids(fd, ids, 255);
    if (n < 0) return -1;
    if (n > 255) n = 255;
    size_t need = 2 + 2 * (size_t)n;
    if (*len < 2) { errno = EINVAL; return -1; }
    memset(out, 0, *len < need ? *len : need);
    out[0] = (unsigned char)n;
    size_t written = 2;
    for (int i = 0; i < n && written + 2 <= *len; i++) {
        if (ids[i].id > 255) { errno = EOVERFLOW; return -1; }   /* legacy ids are one byte */
        out[written] = (unsigned char)ids[i].id;
        out[written + 1] = (ids[i].flags & SRTE_SUBFLOW_FULLY_ESTABLISHED ? 0x02 : 0) |
                           (ids[i].flags & SRTE_SUBFLOW_LOW_PRIO ? 0x08 : 0) | 0x04 /* attached */;
        written += 2;
    }
    *len = (socklen_t)written;
    return 0;
}

static int close_sub_id(int fd, const unsigned char *in, socklen_t len)
{
    /* The out-of-tree header's struct is the id alone (1 byte: FIN); draft-03's adds `how` at
     * offset 4 (8 bytes). */
    if (len < 1 || (len > 1 && len < 8)) { errno = EINVAL; return -1; }
    int32_t how = SHUT_RDWR;
    if (len >= 8) memcpy(&how, in + 4, 4);
    return srte_mptcp_close_subflow(fd, in[0], how);
}

/*
 * Two layouts of struct mptcp_sub_tuple, told apart by optlen:
 *  - the out-of-tree header's { u8 id; u8 addrs[]; }: the two sockaddrs at offset 1, optlen
 *    1 + 2 * sizeof(sockaddr): always odd (33 for IPv4, 57 for IPv6);
 *  - draft-03 Figure 10 with prio, if_idx and ipv6_srh, in srte's layout (csrh_mptcp.h: the
 *    addresses at offset 16): always even (48, 72).
 */
static size_t addrs_offset(socklen_t len) { return (len & 1) ? 1 : TUPLE_HEADER; }

static int get_sub_tuple(int fd, unsigned char *io, socklen_t *len)
{
    size_t at = addrs_offset(*len);
    if (*len < at + 2 * sizeof(struct sockaddr_in)) { errno = EINVAL; return -1; }
    struct srte_subflow_tuple t;
    /* The SRH is not copied to ipv6_srh: the legacy struct does not say how large that buffer
     * is (srte_mptcp_get_subflow_tuple() returns it). */
    if (srte_mptcp_get_subflow_tuple(fd, io[0], &t, NULL, 0) < 0) return -1;
    size_t one = t.local.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (*len < at + 2 * one) { errno = EINVAL; return -1; }
    if (at == TUPLE_HEADER) {
        io[1] = (unsigned char)(t.low_prio ? 1 : 0);
        io[2] = io[3] = 0;
        int32_t ifi = t.if_index;
        memcpy(io + 4, &ifi, 4);
    }
    memcpy(io + at, &t.local, one);
    memcpy(io + at + one, &t.remote, one);
    *len = (socklen_t)(at + 2 * one);
    return 0;
}

static int open_sub_tuple(int fd, unsigned char *io, socklen_t *len)
{
    size_t at = addrs_offset(*len);
    if (*len < at) { errno = EINVAL; return -1; }
    struct srte_subflow_tuple t;
    memset(&t, 0, sizeof t);
    const struct ipv6_sr_hdr *srh = NULL;
    if (at == TUPLE_HEADER) {
        t.low_prio = io[1] & 1;
        int32_t ifi;
        memcpy(&ifi, io + 4, 4);
        t.if_index = ifi;
        memcpy(&srh, io + 8, sizeof srh);
    }
    size_t l = sockaddr_length(io + at, *len - at);
    size_t r = l ? sockaddr_length(io + at + l, *len - at - l) : 0;
    if (!l || r != l) { errno = EINVAL; return -1; }
    memcpy(&t.local, io + at, l);
    memcpy(&t.remote, io + at + l, r);
    uint32_t id;
    if (srte_mptcp_open_subflow(fd, &t, srh, &id) < 0) return -1;
    if (id > 255) { errno = EOVERFLOW; return -1; }
    io[0] = (unsigned char)id;   /* the kernel wrote the new id back */
    return 0;
}

/*
 * MPTCP_SUB_GETSOCKOPT / MPTCP_SUB_SETSOCKOPT: the out-of-tree header's structs, passed as the
 * option value of getsockopt or setsockopt at IPPROTO_TCP.
 */
struct oot_sub_getsockopt { uint8_t id; int level; int optname; char *optval; unsigned int *optlen; };
struct oot_sub_setsockopt { uint8_t id; int level; int optname; char *optval; unsigned int optlen; };

static int sub_sockopt(int fd, int name, const void *val, socklen_t len)
{
    if (name == SUB_GETSOCKOPT) {
        struct oot_sub_getsockopt g;
        if (len < (socklen_t)sizeof g) { errno = EINVAL; return -1; }
        memcpy(&g, val, sizeof g);
        if (!g.optval || !g.optlen) { errno = EFAULT; return -1; }
        socklen_t l = *g.optlen;
        if (srte_mptcp_sub_getsockopt(fd, g.id, g.level, g.optname, g.optval, &l) < 0) return -1;
        *g.optlen = l;
        return 0;
    }
    struct oot_sub_setsockopt s;
    if (len < (socklen_t)sizeof s) { errno = EINVAL; return -1; }
    memcpy(&s, val, sizeof s);
    if (!s.optval && s.optlen) { errno = EFAULT; return -1; }
    return srte_mptcp_sub_setsockopt(fd, s.id, s.level, s.optname, s.optval, s.optlen);
}

__attribute__((visibility("default")))
int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    if (level == IPPROTO_TCP && name >= OOT_ENABLED && name <= OOT_INFO && managed(fd)) {
        /* getsockopt(43) with an int's length is upstream's TCP_IS_MPTCP */
        if (name == OOT_SCHEDULER && len && *len == sizeof(int)) return real_getsockopt(fd, level, name, val, len);
        /* getsockopt(45) with an int's length is upstream's TCP_RTO_MIN_US */
        if (name == OOT_INFO && len && *len == sizeof(int)) return real_getsockopt(fd, level, name, val, len);
        if (!val || !len) { errno = EFAULT; return -1; }
        return oot_getsockopt(fd, name, val, len);
    }
    if (level != IPPROTO_TCP || name < GET_SUB_IDS || name > SUB_SETSOCKOPT || name == 70)
        return real_getsockopt(fd, level, name, val, len);
    if (!val || !len) { errno = EFAULT; return -1; }
    switch (name) {
    case GET_SUB_IDS: return get_sub_ids(fd, val, len);
    case CLOSE_SUB_ID: return close_sub_id(fd, val, *len);
    case GET_SUB_TUPLE: return get_sub_tuple(fd, val, len);
    case OPEN_SUB_TUPLE: return open_sub_tuple(fd, val, len);
    default: return sub_sockopt(fd, name, val, *len);   /* 71, 72 */
    }
}

__attribute__((visibility("default")))
int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    if (level == IPPROTO_TCP && name >= OOT_ENABLED && name <= OOT_INFO && managed(fd)) {
        if (!val) { errno = EFAULT; return -1; }
        return oot_setsockopt(fd, name, val, len);
    }
    /* MPTCP_SUB_SETSOCKOPT is a setsockopt on the out-of-tree kernel (and 71 is accepted here too) */
    if (level == IPPROTO_TCP && (name == SUB_SETSOCKOPT || name == SUB_GETSOCKOPT)) {
        if (!val) { errno = EFAULT; return -1; }
        return sub_sockopt(fd, name, val, len);
    }
    return real_setsockopt(fd, level, name, val, len);
}
