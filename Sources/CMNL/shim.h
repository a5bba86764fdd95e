/* libmnl: the netlink socket layer srte uses (open, bind, send, receive,
 * port id). Message building and parsing are in Swift (SubflowSteering/Netlink). */
#ifndef CMNL_SHIM_H
#define CMNL_SHIM_H
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>
#endif
