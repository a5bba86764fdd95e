/*
 * The C API's control connection: one per thread, kept from call to call, reconnected when the
 * agent restarted, never shared with a forked child. Prints one line per step, with the Unix
 * and other sockets this process holds (`sockets=N conn=INODE`: the program itself opens no
 * socket but the MPTCP one; it and what the process started with are left out):
 *
 *   calls n=10 ok sockets=1 conn=I same=1    ten hellos on one connection
 *   thread sockets=2 | joined sockets=1      a second thread has its own; gone with the thread
 *   ids n=K                                  get subflow ids on the same connection
 *   ready                                    (waits for a line on stdin: the agent restarts)
 *   after-restart hello pid=P ids n=K sockets=1 conn=I2
 *   fork child-inherited=0 child-hello ok child-sockets=1
 *   raw-fork child-hello ok child-sockets=2  (a child the fork handlers did not see: the
 *                                             inherited connection is left alone, not used)
 *   parent sockets=1 conn=I2 hello ok
 *   reused-number hello ok file-intact=1 sockets=1 new=1   (the program closed the connection's
 *                                             descriptor and got its number for a socket of its own:
 *                                             nothing is sent on it)
 *
 * usage: conn_client SERVER PORT
 *        conn_client --hellos N     N hellos, then "hellos n=N ok=K errno=E sockets=S" (no MPTCP
 *                                   socket: against an agent that closes after each answer)
 */
#define _GNU_SOURCE
#include <srte/mptcp_socket.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Sockets not the library's: the MPTCP socket, and what the process started with (its
 * standard streams may be sockets). */
static unsigned long skip[16];
static int skipped;

static int is_skipped(unsigned long ino)
{
    for (int i = 0; i < skipped; i++)
        if (skip[i] == ino) return 1;
    return 0;
}

/* Sockets of this process other than the MPTCP one: their count; the last inode in *ino. */
static int sockets(unsigned long *ino)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(path, link, sizeof link - 1);
        if (l <= 0) continue;
        link[l] = 0;
        unsigned long i;
        if (sscanf(link, "socket:[%lu]", &i) == 1 && !is_skipped(i)) {
            if (ino == &skip[0]) { if (skipped < 16) skip[skipped++] = i; continue; }
            n++;
            if (ino) *ino = i;
        }
    }
    closedir(d);
    return n;
}

/* The descriptor holding socket inode `ino`, or -1. */
static int fd_of(unsigned long ino)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(path, link, sizeof link - 1);
        if (l <= 0) continue;
        link[l] = 0;
        unsigned long i;
        if (sscanf(link, "socket:[%lu]", &i) == 1 && i == ino) found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

static void *thread_hello(void *arg)
{
    (void)arg;
    if (srte_mptcp_hello(NULL) < 0) { printf("thread hello errno=%d %s\n", errno, srte_mptcp_last_error()); return NULL; }
    printf("thread sockets=%d\n", sockets(NULL));
    fflush(stdout);
    return NULL;
}

static int child_report(const char *what, unsigned long parent_conn)
{
    unsigned long ino = 0;
    int before = sockets(&ino);
    int inherited = 0;
    /* is the parent's connection among this child's descriptors? */
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(path, link, sizeof link - 1);
        if (l <= 0) continue;
        link[l] = 0;
        unsigned long i;
        if (sscanf(link, "socket:[%lu]", &i) == 1 && i == parent_conn) inherited = 1;
    }
    if (d) closedir(d);
    int ok = srte_mptcp_hello(NULL) == 0;
    printf("%s child-inherited=%d before=%d child-hello %s child-sockets=%d\n", what, inherited, before, ok ? "ok" : srte_mptcp_last_error(), sockets(NULL));
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "--hellos") == 0) {
        sockets(&skip[0]);
        int n = atoi(argv[2]), ok = 0, e = 0;
        for (int i = 0; i < n; i++) {
            if (srte_mptcp_hello(NULL) == 0) ok++;
            else if (!e) { e = errno; printf("hello errno=%d %s\n", e, srte_mptcp_last_error()); }
        }
        printf("hellos n=%d ok=%d errno=%d sockets=%d\n", n, ok, e, sockets(NULL));
        return 0;
    }
    if (argc < 3) { fprintf(stderr, "usage: %s SERVER PORT\n", argv[0]); return 2; }
    int fd = socket(AF_INET6, SOCK_STREAM, 262);
    struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(argv[2])) };
    inet_pton(AF_INET6, argv[1], &s.sin6_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&s, sizeof s) < 0) { perror("connect"); return 1; }
    sockets(&skip[0]);   /* records the sockets the process holds now */
    if (sockets(NULL) != 0) { printf("unexpected sockets before the first call: %d\n", sockets(NULL)); return 1; }

    unsigned long first = 0, ino = 0;
    int ok = 1, same = 1;
    for (int i = 0; i < 10; i++) {
        if (srte_mptcp_hello(NULL) < 0) { printf("hello %d errno=%d %s\n", i, errno, srte_mptcp_last_error()); ok = 0; break; }
        sockets(&ino);
        if (i == 0) first = ino; else if (ino != first) same = 0;
    }
    printf("calls n=10 %s sockets=%d conn=%lu same=%d\n", ok ? "ok" : "failed", sockets(NULL), first, same);

    pthread_t t;
    pthread_create(&t, NULL, thread_hello, NULL);
    pthread_join(t, NULL);
    printf("joined sockets=%d\n", sockets(NULL));

    struct srte_subflow_status ids[8];
    int n = srte_mptcp_get_subflow_ids(fd, ids, 8);
    sockets(&ino);
    printf("ids n=%d conn-same=%d\n", n, ino == first);

    printf("ready\n");
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;

    struct srte_agent_info info;
    int h = srte_mptcp_hello(&info);
    int h_errno_ = errno;
    n = srte_mptcp_get_subflow_ids(fd, ids, 8);
    unsigned long second = 0;
    int count = sockets(&second);
    if (h < 0) printf("after-restart hello errno=%d %s\n", h_errno_, srte_mptcp_last_error());
    else printf("after-restart hello pid=%u ids n=%d sockets=%d conn=%lu new=%d\n", info.pid, n, count, second, second != first);

    pid_t c = fork();
    if (c == 0) _exit(child_report("fork", second));
    int status = 0;
    waitpid(c, &status, 0);

    /* A child the fork handlers did not see (the raw system call): it must not use the
     * inherited connection (the process id differs), and leaves it open. */
    c = (pid_t)syscall(SYS_fork);
    if (c == 0) _exit(child_report("raw-fork", second));
    waitpid(c, &status, 0);

    unsigned long after = 0;
    count = sockets(&after);
    h = srte_mptcp_hello(NULL);
    unsigned long still = 0;
    sockets(&still);
    printf("parent sockets=%d conn-same=%d hello %s conn-after=%d\n", count, after == second, h == 0 ? "ok" : srte_mptcp_last_error(), still == second);

    /* The program closes the connection's descriptor and gets the number back for a socket
     * of its own (one end of a socket pair): the library must notice, connect again, and
     * send nothing on the program's socket. */
    int cfd = fd_of(still);
    close(cfd);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    if (sv[0] != cfd) { dup2(sv[0], cfd); close(sv[0]); }
    struct stat mine;
    fstat(sv[1], &mine);
    skip[skipped++] = mine.st_ino;          /* the pair is the program's, not the library's */
    fstat(cfd, &mine);
    skip[skipped++] = mine.st_ino;
    h = srte_mptcp_hello(NULL);
    char junk[64];
    ssize_t leaked = recv(sv[1], junk, sizeof junk, MSG_DONTWAIT);
    int intact = leaked < 0 && errno == EAGAIN;
    unsigned long now = 0;
    count = sockets(&now);
    printf("reused-number hello %s file-intact=%d sockets=%d new=%d\n", h == 0 ? "ok" : srte_mptcp_last_error(),
           intact, count, now != still);
    close(fd);
    return 0;
}
