/* Shims for the testbed's delay bridge (Sources/SubflowSteering/Testbed/DelayBridge.swift)
 * and the detached processes that run it. See include/csrh_process.h. */
#include "csrh_process.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int csrh_packet_open(const char *ifname, int buffer_bytes, int *err)
{
	int ifindex = (int)if_nametoindex(ifname);
	if (ifindex == 0) { *err = ENODEV; return -1; }
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0) { *err = errno; return -1; }
	int one = 1;
	/* Before bind: PACKET_VNET_HDR is refused once the ring or binding exists on some kernels. */
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) goto fail;
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) goto fail;
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) goto fail;
	struct packet_mreq mr;
	memset(&mr, 0, sizeof mr);
	mr.mr_ifindex = ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) goto fail;
	/* Arrival times from the kernel (SCM_TIMESTAMPNS), so the bridge's own wake-up latency
	 * does not add to the delay. */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
	if (buffer_bytes > 0) {
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof buffer_bytes) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer_bytes, sizeof buffer_bytes) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
	}
	return fd;
fail:
	*err = errno;
	close(fd);
	return -1;
}

unsigned csrh_packet_drops(int fd)
{
	struct tpacket_stats st;
	socklen_t len = sizeof st;
	memset(&st, 0, sizeof st);
	/* PACKET_STATISTICS counts since the previous call (reading resets it). */
	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return 0;
	return st.tp_drops;
}

long csrh_packet_recv(int fd, void *buf, long cap, int64_t *arrival_realtime_ns)
{
	union { char buf[CMSG_SPACE(sizeof(struct timespec)) + 64]; struct cmsghdr align; } control;
	struct iovec iov = { .iov_base = buf, .iov_len = (size_t)cap };
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = control.buf;
	m.msg_controllen = sizeof control.buf;
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) return -errno;
	*arrival_realtime_ns = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof ts);
			*arrival_realtime_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		}
	}
	return (long)n;
}

int csrh_wait2(int fd0, int fd1, int64_t timeout_ns, short *rev0, short *rev1)
{
	struct pollfd p[2] = { { .fd = fd0, .events = POLLIN }, { .fd = fd1, .events = POLLIN } };
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000LL;
		ts.tv_nsec = timeout_ns % 1000000000LL;
		tp = &ts;
	}
	int n = ppoll(p, 2, tp, NULL);
	if (n < 0) return -errno;
	*rev0 = p[0].revents;
	*rev1 = p[1].revents;
	return n;
}

int csrh_set_timer_slack_ns(unsigned long ns)
{
	return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0) == 0 ? 0 : errno;
}

short csrh_poll_in(void) { return POLLIN; }
short csrh_poll_err(void) { return POLLERR | POLLHUP | POLLNVAL; }

int csrh_spawn_detached(const char *path, char *const argv[], int ready_fd, int32_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc) return rc;
	rc = posix_spawnattr_init(&at);
	if (rc) { posix_spawn_file_actions_destroy(&fa); return rc; }
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (ready_fd >= 0) posix_spawn_file_actions_adddup2(&fa, ready_fd, 3);
	/* Nothing else: a descriptor inherited by a long-lived bridge keeps its other end waiting
	 * (a pipe never reaching EOF; Foundation's Process watches a socketpair end it leaves in
	 * each child to learn that the child exited, so a bridge holding it hides the exit of the
	 * `srte testbed up` that spawned it). */
	posix_spawn_file_actions_addclosefrom_np(&fa, ready_fd >= 0 ? 4 : 3);
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &defaults);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t child = 0;
	rc = posix_spawn(&child, path, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (rc == 0) *pid = child;
	return rc;
}
