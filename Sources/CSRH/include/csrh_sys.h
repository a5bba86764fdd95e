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
 * Per-subflow socket options through a cgroup sock_ops program (csrh_sockopt.c;
 * the object, bpf/subflow_sockopt.bpf.c, is compiled at build time and passed in).
 * flags: 1 SO_MARK, 2 IPV6_TCLASS, 4 TCP_CONGESTION. Functions return 0 or an errno.
 */
struct csrh_sockopt;
struct csrh_sockopt *csrh_sockopt_attach(const void *object, size_t object_len, const char *cgroup_path,
                                         uint32_t port_lo, uint32_t port_hi, int *err);
void csrh_sockopt_detach(struct csrh_sockopt *h);
int csrh_sockopt_set(struct csrh_sockopt *h, uint64_t netns, const uint8_t local[16], uint16_t lport, const uint8_t remote[16], uint16_t rport,
                     uint32_t flags, uint32_t mark, int32_t tclass, const char *cc);
int csrh_sockopt_status(struct csrh_sockopt *h, uint64_t netns, const uint8_t local[16], uint16_t lport, const uint8_t remote[16], uint16_t rport,
                        int *applied, int32_t *last_error);
int csrh_sockopt_forget(struct csrh_sockopt *h, uint64_t netns, const uint8_t local[16], uint16_t lport, const uint8_t remote[16], uint16_t rport);

/* Sets the effective uid of the calling thread only (raw setresuid(-1, euid, -1);
 * glibc's seteuid() changes every thread). Returns 0 or an errno. For tests that
 * check what a non-root caller is refused, inside a root process. */
int csrh_thread_set_euid(uint32_t euid);

#endif
