/* Thin shims for calls Glibc's Swift overlay does not expose. */
#ifndef CSRH_SYS_H
#define CSRH_SYS_H

/* setns(fd, CLONE_NEWNET): enter the network namespace `fd` refers to. */
int csrh_setns_net(int fd);

#include <stdint.h>
#include <sys/socket.h>

/*
 * Reference encoders for the legacy structs (csrh_mptcp.h), written with the
 * C struct fields so the compiler decides the layout. Tests compare the Swift
 * codec's bytes with these. Each returns the number of bytes written, or -1
 * when `cap` is too small.
 */
int csrh_legacy_fill_sub_status(void *buf, int cap, uint8_t id, int slave_sk, int fully_established,
                                int attached, int low_prio, int pre_established);
int csrh_legacy_fill_sub_tuple(void *buf, int cap, uint8_t id, uint8_t prio, int32_t if_idx, uint64_t srh,
                               const struct sockaddr *local, const struct sockaddr *remote, int addrlen);
int csrh_legacy_fill_close_sub_id(void *buf, int cap, uint8_t id, int32_t how);
int csrh_legacy_fill_sub_getsockopt(void *buf, int cap, uint8_t id, int32_t level, int32_t optname,
                                    uint64_t optval, uint64_t optlen);
int csrh_legacy_fill_sub_setsockopt(void *buf, int cap, uint8_t id, int32_t level, int32_t optname,
                                    uint64_t optval, uint32_t optlen);

#endif
