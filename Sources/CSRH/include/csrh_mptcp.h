/*
 * MPTCP ABI: the upstream uapi pieces the Debian 6.1 headers lack, and the
 * legacy out-of-tree socket API of draft-hesmans-mptcp-socket.
 * (Filled in by the MPTCP socket API work, issue 3.)
 */
#ifndef CSRH_MPTCP_H
#define CSRH_MPTCP_H

#include <stdint.h>

#endif
