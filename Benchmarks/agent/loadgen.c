// Load generator for the agent's churn benchmark: MPTCP connections from an unmodified program.
//
//   loadgen concurrent ADDR PORT N HOLD_MS K         N connections at once, each sending for HOLD_MS
//   loadgen serve PORT                               accept MPTCP connections, read each to EOF
//   loadgen churn ADDR PORT TOTAL SECONDS MAXLIFE_MS K MINLIFE_MS
//                                                    TOTAL connections paced over SECONDS, each
//                                                    living a uniform random 0..MAXLIFE_MS
//
// Each connection is socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP), connects, sends first (the
// agent's joins wait for a data-level ack), and just before close counts its subflows in TCP
// state ESTABLISHED (getsockopt MPTCP_TCPINFO). It prints one JSON object: connections,
// failures, and among connections that lived at least MINLIFE_MS how many had K subflows.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

static struct sockaddr_in6 server;
static int want_k;
static long min_life_ms;
static atomic_long made, failed, long_lived, long_lived_full, total_subflows, active;
/* Connections by lifetime bucket (ms): [0,60) [60,100) [100,150) [150,200) [200,300) [300,inf), and those with K subflows. */
static const long bucket_edges[] = { 60, 100, 150, 200, 300 };
#define NBUCKETS 6
static atomic_long bucket_all[NBUCKETS], bucket_full[NBUCKETS];

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Subflows of `fd` in TCP state ESTABLISHED; *all: every subflow the connection has, in any
 * state (a join still in its handshake counts here only); *first: the first subflow's
 * tcp_info (the initial subflow: the kernel lists subflows in the order they were made). */
static int established_subflows(int fd, int *all, struct tcp_info *first)
{
	struct {
		struct mptcp_subflow_data d;
		struct tcp_info ti[8];
	} buf;
	memset(&buf, 0, sizeof(buf));
	buf.d.size_subflow_data = sizeof(struct mptcp_subflow_data);
	buf.d.size_user = sizeof(struct tcp_info);
	socklen_t len = sizeof(buf);
	if (getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, &buf, &len) < 0)
		return -1;
	int n = 0;
	*all = (int)buf.d.num_subflows;
	if (buf.d.num_subflows > 0)
		*first = buf.ti[0];
	for (unsigned i = 0; i < buf.d.num_subflows && i < 8; i++)
		if (buf.ti[i].tcpi_state == 1)
			n++;
	return n;
}

/* One connection living `life_ms` (512 bytes at once, then every 50 ms). */
static void one(long life_ms)
{
	static const char chunk[512];
	double start = now_ms();
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
		atomic_fetch_add(&failed, 1);
		if (fd >= 0)
			close(fd);
		return;
	}
	atomic_fetch_add(&made, 1);
	do {
		if (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
			break;
		double left = life_ms - (now_ms() - start);
		if (left <= 0)
			break;
		usleep((useconds_t)((left < 50 ? left : 50) * 1000));
	} while (now_ms() - start < life_ms);
	int all = 0;
	struct tcp_info first;
	memset(&first, 0, sizeof(first));
	int n = established_subflows(fd, &all, &first);
	double lived = now_ms() - start;
	if (n > 0)
		atomic_fetch_add(&total_subflows, n);
	int b = 0;
	while (b < NBUCKETS - 1 && lived >= bucket_edges[b])
		b++;
	atomic_fetch_add(&bucket_all[b], 1);
	if (n >= want_k)
		atomic_fetch_add(&bucket_full[b], 1);
	if (lived >= min_life_ms) {
		atomic_fetch_add(&long_lived, 1);
		if (n >= want_k)
			atomic_fetch_add(&long_lived_full, 1);
		else {
			/* Short of K at close: say whether the joins existed (still in their handshake),
			 * which connection it was (its token, as the agent logs it), and whether the
			 * initial subflow lost segments: the kernel refuses joins until the peer has
			 * acknowledged data (full establishment), which a lost first segment delays by
			 * a retransmission timeout. */
			struct mptcp_info mi;
			socklen_t ml = sizeof(mi);
			memset(&mi, 0, sizeof(mi));
			getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &mi, &ml);
			fprintf(stderr, "short token=%08x lived_ms=%.0f established=%d subflows=%d "
				"initial_sent=%llu initial_acked=%llu initial_retrans=%u initial_rto_ms=%u fallback=%d\n",
				mi.mptcpi_token, lived, n, all, (unsigned long long)first.tcpi_bytes_sent,
				(unsigned long long)first.tcpi_bytes_acked, first.tcpi_total_retrans, first.tcpi_rto / 1000,
				(mi.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK) ? 1 : 0);
		}
	}
	close(fd);
}

struct job { long life_ms; };

static void *run_one(void *arg)
{
	struct job *j = arg;
	one(j->life_ms);
	free(j);
	atomic_fetch_sub(&active, 1);
	return NULL;
}

static void start_detached(long life_ms)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 128 * 1024);
	struct job *j = malloc(sizeof(*j));
	j->life_ms = life_ms;
	atomic_fetch_add(&active, 1);
	pthread_t t;
	while (pthread_create(&t, &a, run_one, j) != 0)
		usleep(1000);
	pthread_attr_destroy(&a);
}

static void *drain(void *arg)
{
	int fd = (int)(long)arg;
	char buf[16384];
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	close(fd);
	return NULL;
}

static int serve(int port)
{
	int l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP), one = 1;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT };
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0) {
		perror("loadgen serve");
		return 1;
	}
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	for (;;) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, &at, drain, (void *)(long)c) != 0)
			close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(atoi(argv[2]));
	if (argc < 7) {
		fprintf(stderr, "usage: loadgen concurrent ADDR PORT N HOLD_MS K | churn ADDR PORT TOTAL SECONDS MAXLIFE_MS K MINLIFE_MS\n");
		return 2;
	}
	memset(&server, 0, sizeof(server));
	server.sin6_family = AF_INET6;
	server.sin6_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET6, argv[2], &server.sin6_addr) != 1) {
		fprintf(stderr, "loadgen: not an IPv6 address: %s\n", argv[2]);
		return 2;
	}
	double t0 = now_ms();
	if (strcmp(argv[1], "concurrent") == 0) {
		long n = atol(argv[4]), hold = atol(argv[5]);
		want_k = atoi(argv[6]);
		min_life_ms = hold;
		for (long i = 0; i < n; i++)
			start_detached(hold);
	} else if (strcmp(argv[1], "churn") == 0 && argc >= 9) {
		long total = atol(argv[4]), secs = atol(argv[5]), maxlife = atol(argv[6]);
		want_k = atoi(argv[7]);
		min_life_ms = atol(argv[8]);
		unsigned seed = 42;
		for (long i = 0; i < total; i++) {
			double due = t0 + (double)i * secs * 1000.0 / total;
			double wait = due - now_ms();
			if (wait > 0)
				usleep((useconds_t)(wait * 1000));
			start_detached(rand_r(&seed) % (maxlife + 1));
		}
	} else {
		fprintf(stderr, "loadgen: unknown mode %s\n", argv[1]);
		return 2;
	}
	/* Wait for the connections to finish (at most 60 s more). */
	for (int i = 0; i < 600 && atomic_load(&active) > 0; i++)
		usleep(100000);
	printf("{\"connections\": %ld, \"failed\": %ld, \"longLived\": %ld, \"longLivedWithK\": %ld, \"k\": %d, "
	       "\"minLifeMs\": %ld, \"subflowsAtClose\": %ld, \"seconds\": %.1f, \"byLifetimeMs\": [",
	       atomic_load(&made), atomic_load(&failed), atomic_load(&long_lived), atomic_load(&long_lived_full), want_k,
	       min_life_ms, atomic_load(&total_subflows), (now_ms() - t0) / 1000);
	for (int b = 0; b < NBUCKETS; b++)
		printf("%s{\"from\": %ld, \"connections\": %ld, \"withK\": %ld}", b ? ", " : "", b ? bucket_edges[b - 1] : 0L,
		       atomic_load(&bucket_all[b]), atomic_load(&bucket_full[b]));
	printf("]}\n");
	return 0;
}
