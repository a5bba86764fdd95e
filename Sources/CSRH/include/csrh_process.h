/* Shims for the testbed's delay bridge and its detached processes (csrh_process.c).
 * Swift-facing: no socket or netinet headers here (they break Glibc name lookup in Swift). */
#ifndef CSRH_PROCESS_H
#define CSRH_PROCESS_H

#include <stdint.h>

/*
 * A packet socket (AF_PACKET, SOCK_RAW, ETH_P_ALL) bound to interface `ifname` of the
 * calling thread's network namespace, for a two-port bridge:
 *   - PACKET_VNET_HDR: every frame carries a 10-byte virtio_net_hdr (checksum offsets and
 *     GSO type), on receive and on send, so partial checksums and GSO super-frames survive;
 *   - PACKET_IGNORE_OUTGOING: frames the socket sends are not read back;
 *   - promiscuous membership, so frames for the far end's MAC are seen;
 *   - SO_TIMESTAMPNS (arrival times, see csrh_packet_recv);
 *   - SO_RCVBUF/SO_SNDBUF of `buffer_bytes` (forced, as root).
 * Returns the descriptor, or -1 with *err set to the errno (ENODEV: no such interface).
 */
int csrh_packet_open(const char *ifname, int buffer_bytes, int *err);

/* Frames the kernel dropped on packet socket `fd` (its receive buffer was full) since the
 * previous call (PACKET_STATISTICS); 0 when it cannot tell. */
unsigned csrh_packet_drops(int fd);

/*
 * Reads one frame (non-blocking, MSG_TRUNC: returns the full length even when longer than
 * `cap`) and its arrival time as the kernel stamped it (CLOCK_REALTIME ns; -1 if none).
 * Returns the length or -errno.
 */
long csrh_packet_recv(int fd, void *buf, long cap, int64_t *arrival_realtime_ns);

/*
 * Waits until fd0 or fd1 is readable, or `timeout_ns` has passed (negative: no limit), with
 * ppoll's nanosecond timeout. Sets *rev0 / *rev1 to the returned events. Returns the number
 * of ready descriptors (0 on timeout) or -errno.
 */
int csrh_wait2(int fd0, int fd1, int64_t timeout_ns, short *rev0, short *rev1);

/* prctl(PR_SET_TIMERSLACK, ns) for the calling thread: 1 makes timed waits wake on time. */
int csrh_set_timer_slack_ns(unsigned long ns);

/* Readiness-event constants of poll(2), for the values csrh_wait2 returns. */
short csrh_poll_in(void);
short csrh_poll_err(void);

/*
 * posix_spawn of `path` with `argv` (NULL-terminated) as a detached process: a new session
 * (POSIX_SPAWN_SETSID, so terminal signals for the caller's process group do not reach it),
 * an empty signal mask, default dispositions for SIGINT, SIGTERM, SIGHUP and SIGPIPE,
 * stdin, stdout and stderr on /dev/null, `ready_fd` as descriptor 3 (-1: none), and every
 * other descriptor closed (posix_spawn_file_actions_addclosefrom_np). Returns 0 and sets
 * *pid, or an errno.
 */
int csrh_spawn_detached(const char *path, char *const argv[], int ready_fd, int32_t *pid);

#endif
