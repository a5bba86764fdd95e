/* Times N calls of the C API through the srte agent: hello (no socket) and get subflow ids
 * (an MPTCP connection's socket passed with each call). usage: calls N SERVER PORT */
#include <srte/mptcp_socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s N SERVER PORT\n", argv[0]); return 2; }
    int n = atoi(argv[1]);
    double a = now_ms();
    for (int i = 0; i < n; i++)
        if (srte_mptcp_hello(NULL) < 0) { fprintf(stderr, "hello: %s\n", srte_mptcp_last_error()); return 1; }
    double hello = (now_ms() - a) / n;

    int fd = socket(AF_INET6, SOCK_STREAM, 262);
    struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[3])) };
    inet_pton(AF_INET6, argv[2], &s.sin6_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&s, sizeof s) < 0) { perror("connect"); return 1; }
    struct srte_subflow_status ids[8];
    a = now_ms();
    for (int i = 0; i < n; i++)
        if (srte_mptcp_get_subflow_ids(fd, ids, 8) < 0) { fprintf(stderr, "ids: %s\n", srte_mptcp_last_error()); return 1; }
    double get = (now_ms() - a) / n;
    printf("calls=%d hello_ms=%.3f get_subflow_ids_ms=%.3f\n", n, hello, get);
    close(fd);
    return 0;
}
