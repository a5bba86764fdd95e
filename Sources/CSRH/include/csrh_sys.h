/* Thin shims for calls Glibc's Swift overlay does not expose. */
#ifndef CSRH_SYS_H
#define CSRH_SYS_H

/* setns(fd, CLONE_NEWNET): enter the network namespace `fd` refers to. */
int csrh_setns_net(int fd);

#endif
