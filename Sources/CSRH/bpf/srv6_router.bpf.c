// SPDX-License-Identifier: GPL-2.0
/*
 * srte testbed router: the SRv6 endpoint behaviours End and End.X (RFC 8986
 * §4.1, §4.2) as a tc ingress program, for kernels built without seg6local
 * (CONFIG_IPV6_SEG6_LWTUNNEL unset: `ip route ... encap seg6local` fails with
 * "lwt encapsulation type not supported").
 *
 * Attached to the ingress of every interface of a router. For a packet whose
 * IPv6 destination is one of the router's SIDs (the map srte_sids) and that
 * carries an SRH with Segments Left > 0:
 *   End   — Segments Left -= 1, destination := Segment List[Segments Left],
 *           then the kernel routes the packet on (and decrements the hop limit);
 *   End.X — the same rewrite, hop limit -= 1, then out of the adjacency's
 *           interface to the neighbour (bpf_redirect_neigh).
 * A new destination that is again a local SID is processed in the same pass
 * (up to four SIDs), as consecutive seg6local routes would be. Packets to a
 * SID without a usable SRH are dropped, as seg6local drops them. Each SID
 * counts the packets and bytes it processed and the packets it dropped.
 * Upper-layer checksums cover the final destination, which does not change.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../include/csrh_steer_abi.h"

#define AF_INET6_ 10

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CSRH_ROUTER_MAX_SIDS);
	__type(key, struct in6_addr);
	__type(value, struct csrh_router_sid);
} srte_sids SEC(".maps");

#define IP6_OFF ETH_HLEN
#define SRH_OFF (ETH_HLEN + sizeof(struct ipv6hdr))
#define DADDR_OFF (IP6_OFF + offsetof(struct ipv6hdr, daddr))

static __always_inline int drop(struct csrh_router_sid *sid)
{
	__sync_fetch_and_add(&sid->errors, 1);
	return TC_ACT_SHOT;
}

SEC("tc")
int srte_srv6_router(struct __sk_buff *skb)
{
	struct in6_addr da;
	struct csrh_router_sid *sid;
	__u8 srh[8];
	__be16 proto;
	__u8 nexthdr, hops;
	int i;

	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, 2) ||
	    proto != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	for (i = 0; i < 4; i++) {
		if (bpf_skb_load_bytes(skb, DADDR_OFF, &da, 16))
			return TC_ACT_OK;
		sid = bpf_map_lookup_elem(&srte_sids, &da);
		if (!sid)
			return TC_ACT_OK;            /* not (or no longer) ours: the kernel routes it */
		if (bpf_skb_load_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, nexthdr), &nexthdr, 1) ||
		    nexthdr != 43 || bpf_skb_load_bytes(skb, SRH_OFF, srh, 8))
			return drop(sid);
		/* Routing Type 4, Segments Left 1..Last Entry+1, the list inside Hdr Ext Len. */
		__u32 sl = srh[3], last = srh[4];
		if (srh[2] != 4 || sl == 0 || sl > last + 1 || 16 * (last + 1) > 8 * (__u32)srh[1])
			return drop(sid);
		if (bpf_skb_load_bytes(skb, SRH_OFF + 8 + 16 * (sl - 1), &da, 16))
			return drop(sid);
		__u8 left = sl - 1;
		if (bpf_skb_store_bytes(skb, SRH_OFF + 3, &left, 1, BPF_F_RECOMPUTE_CSUM) ||
		    bpf_skb_store_bytes(skb, DADDR_OFF, &da, 16, BPF_F_RECOMPUTE_CSUM))
			return drop(sid);
		/* End.X forwards: a packet it must drop for its hop limit counts as an error only. */
		if (sid->behavior == CSRH_ROUTER_END_X &&
		    (bpf_skb_load_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, hop_limit), &hops, 1) || hops <= 1))
			return drop(sid);
		__sync_fetch_and_add(&sid->packets, 1);
		__sync_fetch_and_add(&sid->bytes, skb->len);
		if (sid->behavior != CSRH_ROUTER_END_X)
			continue;                    /* End: the next SID may be ours too */
		hops -= 1;
		bpf_skb_store_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, hop_limit), &hops, 1, BPF_F_RECOMPUTE_CSUM);
		struct bpf_redir_neigh nh = { .nh_family = AF_INET6_ };
		__builtin_memcpy(nh.ipv6_nh, sid->nexthop, 16);
		return bpf_redirect_neigh(sid->ifindex, &nh, sizeof(nh), 0);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
