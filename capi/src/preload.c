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
 * Options 71 and 72 (per-subflow get/setsockopt) answer EOPNOTSUPP: protocol version 1 does
 * not carry them. Every other call goes to the C library unchanged.
 */
#define _GNU_SOURCE
#include "srte/mptcp_socket.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

enum { GET_SUB_IDS = 66, CLOSE_SUB_ID = 67, GET_SUB_TUPLE = 68, OPEN_SUB_TUPLE = 69, SUB_GETSOCKOPT = 71, SUB_SETSOCKOPT = 72 };
enum { TUPLE_HEADER = 16 };

typedef int (*socket_fn)(int, int, int);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

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

__attribute__((visibility("default")))
int socket(int domain, int type, int protocol)
{
    const char *tcp = getenv("SRTE_PRELOAD_TCP");
    if ((domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_STREAM &&
        (protocol == 0 || protocol == IPPROTO_TCP) && !(tcp && *tcp == '1')) {
        int fd = real_socket(domain, type, IPPROTO_MPTCP);
        if (fd >= 0) return fd;
        if (errno != EPROTONOSUPPORT && errno != EINVAL && errno != ENOPROTOOPT) return -1;
    }
    return real_socket(domain, type, protocol);
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
    if (len < 8) { errno = EINVAL; return -1; }
    int32_t how;
    memcpy(&how, in + 4, 4);
    return srte_mptcp_close_subflow(fd, in[0], how);
}

static int get_sub_tuple(int fd, unsigned char *io, socklen_t *len)
{
    if (*len < TUPLE_HEADER) { errno = EINVAL; return -1; }
    struct srte_subflow_tuple t;
    /* The SRH is not copied to ipv6_srh: the legacy struct does not say how large that buffer
     * is (srte_mptcp_get_subflow_tuple() returns it). */
    if (srte_mptcp_get_subflow_tuple(fd, io[0], &t, NULL, 0) < 0) return -1;
    size_t one = t.local.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (*len < TUPLE_HEADER + 2 * one) { errno = EINVAL; return -1; }
    io[1] = (unsigned char)(t.low_prio ? 1 : 0);
    io[2] = io[3] = 0;
    int32_t ifi = t.if_index;
    memcpy(io + 4, &ifi, 4);
    memcpy(io + TUPLE_HEADER, &t.local, one);
    memcpy(io + TUPLE_HEADER + one, &t.remote, one);
    *len = (socklen_t)(TUPLE_HEADER + 2 * one);
    return 0;
}

static int open_sub_tuple(int fd, unsigned char *io, socklen_t *len)
{
    if (*len < TUPLE_HEADER) { errno = EINVAL; return -1; }
    struct srte_subflow_tuple t;
    memset(&t, 0, sizeof t);
    t.low_prio = io[1] & 1;
    int32_t ifi;
    memcpy(&ifi, io + 4, 4);
    t.if_index = ifi;
    const struct ipv6_sr_hdr *srh;
    memcpy(&srh, io + 8, sizeof srh);
    size_t l = sockaddr_length(io + TUPLE_HEADER, *len - TUPLE_HEADER);
    size_t r = l ? sockaddr_length(io + TUPLE_HEADER + l, *len - TUPLE_HEADER - l) : 0;
    if (!l || r != l) { errno = EINVAL; return -1; }
    memcpy(&t.local, io + TUPLE_HEADER, l);
    memcpy(&t.remote, io + TUPLE_HEADER + l, r);
    uint32_t id;
    if (srte_mptcp_open_subflow(fd, &t, srh, &id) < 0) return -1;
    if (id > 255) { errno = EOVERFLOW; return -1; }
    io[0] = (unsigned char)id;   /* the kernel wrote the new id back */
    return 0;
}

__attribute__((visibility("default")))
int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    if (level != IPPROTO_TCP || name < GET_SUB_IDS || name > SUB_SETSOCKOPT || name == 70)
        return real_getsockopt(fd, level, name, val, len);
    if (!val || !len) { errno = EFAULT; return -1; }
    switch (name) {
    case GET_SUB_IDS: return get_sub_ids(fd, val, len);
    case CLOSE_SUB_ID: return close_sub_id(fd, val, *len);
    case GET_SUB_TUPLE: return get_sub_tuple(fd, val, len);
    case OPEN_SUB_TUPLE: return open_sub_tuple(fd, val, len);
    default: errno = EOPNOTSUPP; return -1;   /* 71, 72: not in protocol version 1 */
    }
}
