/*
 * CSRH: the kernel ABI srte needs, as C declarations with size and offset
 * assertions, plus thin shims. Nothing from this module appears in public
 * Swift API: LinuxSystem, SubflowSteering, NetworkLab and srte-delay-bridge import it
 * with `internal import CSRH`.
 *
 * Each struct is a private copy (prefixed csrh_) so the build does not depend
 * on how recent the installed uapi headers are (Debian 12 ships 6.1 headers,
 * which lack MPTCP_FULL_INFO). Where the system header exists, the copy is
 * checked against it.
 */
#ifndef CSRH_H
#define CSRH_H

#include "csrh_srh.h"
#include "csrh_mptcp.h"
#include "csrh_sys.h"
#include "csrh_bpf.h"
#include "csrh_process.h"

#endif
