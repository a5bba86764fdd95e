/*
 * A program written for the out-of-tree kernel of draft-hesmans-mptcp-socket-03: a plain TCP
 * socket, and the draft's socket options at IPPROTO_TCP (66 MPTCP_GET_SUB_IDS, 69
 * MPTCP_OPEN_SUB_TUPLE with an SRH, 68 MPTCP_GET_SUB_TUPLE, 67 MPTCP_CLOSE_SUB_ID), with the
 * structs in the layout srte documents for that kernel (the address pair at the end of
 * mptcp_sub_tuple). No srte header, no srte library: `srte run` makes it work on upstream Linux.
 *
 * usage: legacy_client SERVER PORT [--via SID] [--bytes N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/seg6.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MPTCP_GET_SUB_IDS 66
#define MPTCP_CLOSE_SUB_ID 67
#define MPTCP_GET_SUB_TUPLE 68
#define MPTCP_OPEN_SUB_TUPLE 69

struct mptcp_sub_status {
    uint8_t id;
    uint16_t slave_sk:1, fully_established:1, attached:1, low_prio:1, pre_established:1;
};
struct mptcp_sub_ids {
    uint8_t sub_count;
    struct mptcp_sub_status sub_status[];
};
struct mptcp_close_sub_id {
    uint8_t id;
    int32_t how;
};
struct mptcp_sub_tuple {
    uint8_t id;
    uint8_t prio;
    uint16_t reserved;
    int32_t if_idx;
    struct ipv6_sr_hdr *ipv6_srh;
    uint8_t addrs[] __attribute__((aligned(8)));   /* local sockaddr, then remote sockaddr */
};

static int ids(int fd, int want)
{
    char buf[2 + 2 * 255];
    socklen_t len = sizeof buf;
    if (getsockopt(fd, IPPROTO_TCP, MPTCP_GET_SUB_IDS, buf, &len) < 0) {
        printf("ids errno=%d %s\n", errno, strerror(errno));
        return -1;
    }
    struct mptcp_sub_ids *s = (struct mptcp_sub_ids *)buf;
    int found = 0;
    printf("ids n=%d", s->sub_count);
    for (int i = 0; i < s->sub_count; i++) {
        printf(" %d:%s", s->sub_status[i].id, s->sub_status[i].fully_established ? "E" : "-");
        if (s->sub_status[i].id == want && s->sub_status[i].fully_established) found = 1;
    }
    printf("\n");
    return found;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s SERVER PORT [--via SID] [--bytes N]\n", argv[0]); return 2; }
    const char *via = NULL;
    long bytes = 1 << 20;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--via") && i + 1 < argc) via = argv[++i];
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = atol(argv[++i]);
    }
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 server = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET6, argv[1], &server.sin6_addr);
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0) { perror("connect"); return 1; }
    static char data[65536];
    if (send(fd, data, sizeof data, 0) < 0) { perror("send"); return 1; }
    ids(fd, 0);

    union { struct ipv6_sr_hdr h; unsigned char b[8 + 2 * 16]; } srh;
    memset(&srh, 0, sizeof srh);
    srh.h.nexthdr = IPPROTO_TCP;
    srh.h.hdrlen = 4;
    srh.h.type = 4;
    srh.h.segments_left = 1;
    srh.h.first_segment = 1;
    if (via) inet_pton(AF_INET6, via, &srh.h.segments[1]);   /* Segment List[0] stays :: */

    union { struct mptcp_sub_tuple t; unsigned char b[sizeof(struct mptcp_sub_tuple) + 2 * sizeof(struct sockaddr_in6)]; } tu;
    memset(&tu, 0, sizeof tu);
    tu.t.ipv6_srh = via ? &srh.h : NULL;
    struct sockaddr_in6 local, remote;
    socklen_t l = sizeof local;
    getsockname(fd, (struct sockaddr *)&local, &l);
    local.sin6_port = 0;                                     /* any port */
    l = sizeof remote;
    getpeername(fd, (struct sockaddr *)&remote, &l);
    memcpy(tu.t.addrs, &local, sizeof local);
    memcpy(tu.t.addrs + sizeof local, &remote, sizeof remote);
    socklen_t len = sizeof tu;
    int rc = -1;
    for (int tries = 0; tries < 300; tries++) {
        rc = getsockopt(fd, IPPROTO_TCP, MPTCP_OPEN_SUB_TUPLE, &tu, &len);
        if (rc == 0 || errno != EAGAIN) break;
        struct timespec t = { 0, 10000000 };
        nanosleep(&t, NULL);
    }
    if (rc < 0) {
        printf("open errno=%d %s\n", errno, strerror(errno));
    } else {
        int id = tu.t.id;
        printf("open ok id=%d\n", id);
        for (int tries = 0; tries < 300 && ids(fd, id) != 1; tries++) {
            struct timespec t = { 0, 10000000 };
            nanosleep(&t, NULL);
        }
        union { struct mptcp_sub_tuple t; unsigned char b[sizeof(struct mptcp_sub_tuple) + 2 * sizeof(struct sockaddr_in6)]; } back;
        memset(&back, 0, sizeof back);
        back.t.id = (uint8_t)id;
        len = sizeof back;
        if (getsockopt(fd, IPPROTO_TCP, MPTCP_GET_SUB_TUPLE, &back, &len) < 0) {
            printf("tuple errno=%d\n", errno);
        } else {
            struct sockaddr_in6 bl, br;
            memcpy(&bl, back.t.addrs, sizeof bl);
            memcpy(&br, back.t.addrs + sizeof bl, sizeof br);
            char rs[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &br.sin6_addr, rs, sizeof rs);
            printf("tuple id=%d lport=%u remote=%s\n", id, ntohs(bl.sin6_port), rs);
        }
    }
    for (long left = bytes; left > 0; left -= sizeof data)
        if (send(fd, data, left < (long)sizeof data ? (size_t)left : sizeof data, 0) < 0) { perror("send"); return 1; }
    if (rc == 0) {
        struct mptcp_close_sub_id c = { .id = tu.t.id, .how = SHUT_RDWR };
        len = sizeof c;
        if (getsockopt(fd, IPPROTO_TCP, MPTCP_CLOSE_SUB_ID, &c, &len) < 0) printf("close errno=%d\n", errno);
        else printf("close ok\n");
    }
    shutdown(fd, SHUT_WR);
    while (recv(fd, data, sizeof data, 0) > 0) {}
    close(fd);
    return 0;
}
