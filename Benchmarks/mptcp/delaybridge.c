/* delaybridge: a two-port Ethernet bridge in userspace that holds every frame
 * for a fixed delay. It stands in for `tc qdisc ... netem delay`, which this
 * kernel lacks (CONFIG_NET_SCH_NETEM is not set).
 *
 *   delaybridge IF_A IF_B DELAY_US
 *
 * Run inside a namespace that owns both interfaces (veth ends). Each direction
 * has its own thread: frames read from one interface (AF_PACKET, incoming only)
 * are queued with a due time and written to the other at that time. The delay
 * applies per direction, so the added round-trip time is 2 x DELAY_US.
 * Frames keep their virtio_net_hdr (PACKET_VNET_HDR) so partial checksums and
 * GSO survive the trip. Stops on SIGTERM/SIGINT or when an interface disappears.
 *
 * Build: cc -O2 -pthread -o delaybridge delaybridge.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QLEN 2048
#define FRAME 65600

struct slot { long long due_ns; int len; unsigned char data[FRAME]; };
struct dir { int in, out; long long delay_ns; struct slot *q; unsigned head, tail; };

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_if(const char *name)
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0) { perror("socket(AF_PACKET)"); exit(1); }
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(name) };
	if (!sll.sll_ifindex) { fprintf(stderr, "no interface %s\n", name); exit(1); }
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("bind"); exit(1); }
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);  /* not our own writes */
	/* veth hands TCP frames over with the checksum not yet computed
	 * (CHECKSUM_PARTIAL) and GSO frames larger than the MTU. A virtio_net_hdr
	 * in front of each frame carries csum_start/csum_offset and the GSO type,
	 * on receive and on send, so forwarding it verbatim keeps both right. */
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) { perror("PACKET_VNET_HDR"); exit(1); }
	struct packet_mreq mr = { .mr_ifindex = sll.sll_ifindex, .mr_type = PACKET_MR_PROMISC };
	setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
	int buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	return fd;
}

static void *run(void *arg)
{
	struct dir *d = arg;
	while (!stop) {
		long long t = now_ns();
		while (d->head != d->tail && d->q[d->head % QLEN].due_ns <= t) {
			struct slot *s = &d->q[d->head % QLEN];
			if (send(d->out, s->data, s->len, 0) < 0 && errno == ENXIO) stop = 1;
			d->head++;
		}
		int timeout_ms = 50;
		if (d->head != d->tail) {
			long long wait = d->q[d->head % QLEN].due_ns - now_ns();
			timeout_ms = wait <= 0 ? 0 : (int)((wait + 999999) / 1000000);
		}
		struct pollfd p = { .fd = d->in, .events = POLLIN };
		int n = poll(&p, 1, timeout_ms);
		if (n < 0 && errno != EINTR) break;
		/* Short waits: spin-free but precise to ~0.1 ms with a tight sleep. */
		if (n == 0 && d->head != d->tail) {
			long long wait = d->q[d->head % QLEN].due_ns - now_ns();
			if (wait > 0) { struct timespec ts = { 0, wait }; nanosleep(&ts, NULL); }
			continue;
		}
		while (n > 0) {
			if (d->tail - d->head >= QLEN) { /* full: drop, as a real queue would */
				char junk[FRAME];
				if (recv(d->in, junk, sizeof junk, MSG_DONTWAIT) <= 0) break;
				continue;
			}
			struct slot *s = &d->q[d->tail % QLEN];
			int len = recv(d->in, s->data, FRAME, MSG_DONTWAIT);
			if (len <= 0) break;
			s->len = len;
			s->due_ns = now_ns() + d->delay_ns;
			d->tail++;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) { fprintf(stderr, "usage: delaybridge IF_A IF_B DELAY_US\n"); return 2; }
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	int a = open_if(argv[1]), b = open_if(argv[2]);
	long long delay = atoll(argv[3]) * 1000LL;
	struct dir ab = { a, b, delay, calloc(QLEN, sizeof(struct slot)), 0, 0 };
	struct dir ba = { b, a, delay, calloc(QLEN, sizeof(struct slot)), 0, 0 };
	if (!ab.q || !ba.q) { perror("calloc"); return 1; }
	pthread_t t1, t2;
	pthread_create(&t1, NULL, run, &ab);
	pthread_create(&t2, NULL, run, &ba);
	printf("ready\n");
	fflush(stdout);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	return 0;
}
