#include "CSRH.h"
#include <sched.h>

int csrh_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }
