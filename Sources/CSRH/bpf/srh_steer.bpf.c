// SPDX-License-Identifier: GPL-2.0
/*
 * srte tc egress program: inserts an IPv6 Segment Routing Header (inline mode)
 * into the TCP packets of the subflows listed in a hash map keyed by the
 * 4-tuple. One map entry = one steered subflow; updating an entry re-steers a
 * live subflow.
 *
 * Built by the normal `swift build` (Plugins/BPFEmbed runs the toolchain's
 * clang with -target bpf) and embedded into SubflowSteering; never committed
 * as an object. Attached through a TCX link, which the kernel removes when the
 * process that holds it exits.
 *
 * The SRH in the map is as sent (Segment List[0] = the final destination, the
 * original IPv6 destination); it may be reduced (RFC 8754 §4.1.1: Segments Left
 * = Last Entry + 1, the first segment only in the Destination Address) and may
 * carry RFC 9800 containers. The program copies it after the IPv6 header, sets
 * its Next Header to the packet's, the IPv6 Next Header to 43, the payload
 * length, and the IPv6 destination to the map value's address (the active
 * segment, or a reduced SRH's first segment). The TCP checksum
 * covers the final destination, which does not change, so it stays valid.
 * The stack does not know the packet grew: the route MTU toward the peer must
 * be lowered by the SRH length (SubflowSteering does that).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../include/csrh_steer_abi.h"
#include "srte_flows.h"

/* TCX verdicts (include/uapi/linux/bpf.h, 6.6+; absent from older headers).
 * TCX_NEXT lets later programs on the same hook run as well. */
#ifndef TCX_NEXT
#define TCX_NEXT (-1)
#define TCX_DROP 2
#endif


struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CSRH_STEER_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} srte_stats SEC(".maps");

static __always_inline void bump(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&srte_stats, &which);
	if (v)
		*v += 1;
}

#define AF_INET6_ 10
#define IP6_OFF ETH_HLEN
#define SRH_OFF (ETH_HLEN + sizeof(struct ipv6hdr))

SEC("tc")
int srte_srh_insert(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip6 + 1);
	struct csrh_steer_key key = {};
	struct csrh_steer_value *v;
	__u32 len, i;
	__u8 nh;

	if ((void *)(th + 1) > end)
		return TCX_NEXT;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6) || ip6->nexthdr != IPPROTO_TCP)
		return TCX_NEXT;
	__builtin_memcpy(&key.saddr, &ip6->saddr, 16);
	__builtin_memcpy(&key.daddr, &ip6->daddr, 16);
	key.sport = th->source;
	key.dport = th->dest;
	v = bpf_map_lookup_elem(&srte_flows, &key);
	if (!v)
		return TCX_NEXT;
	len = v->length;
	/* Segments Left up to Last Entry + 1 (reduced); an unset address (::/8) is a bad value. */
	if (len < 24 || len > CSRH_STEER_MAX_SRH || (len & 7) || v->srh[3] > v->srh[4] + 1 || v->daddr[0] == 0) {
		bump(CSRH_STEER_STAT_ERRORS);
		return TCX_NEXT;
	}
	__u16 payload = bpf_ntohs(ip6->payload_len);
	/* Room right after the IPv6 header. GSO packets keep their gso_size
	 * (BPF_F_ADJ_ROOM_FIXED_GSO): the lowered route MTU already left room for
	 * the SRH in every segment, so each segment grows to the interface MTU.
	 * Without the flag the kernel also shrinks gso_size by the SRH length and
	 * every segment leaves `len` bytes of the MTU unused. */
	if (bpf_skb_adjust_room(skb, len, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_FIXED_GSO)) {
		bump(CSRH_STEER_STAT_ERRORS);
		return TCX_DROP;
	}
	/* Constant-size stores, as the verifier wants. */
	for (i = 0; i < CSRH_STEER_MAX_SRH / 8; i++) {
		if (i * 8 >= len)
			break;
		if (bpf_skb_store_bytes(skb, SRH_OFF + i * 8, &v->srh[i * 8], 8, 0)) {
			bump(CSRH_STEER_STAT_ERRORS);
			return TCX_DROP;
		}
	}
	nh = IPPROTO_TCP;                         /* the SRH's Next Header: what followed IPv6 */
	bpf_skb_store_bytes(skb, SRH_OFF, &nh, 1, 0);
	nh = 43;                                  /* IPv6 Next Header: Routing */
	bpf_skb_store_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, nexthdr), &nh, 1, 0);
	__be16 plen = bpf_htons(payload + len);
	bpf_skb_store_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, payload_len), &plen, 2, 0);
	bpf_skb_store_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, daddr), v->daddr, 16, 0);
	bump(CSRH_STEER_STAT_STEERED);
	/* The stack routed the packet by its original destination. On a node with several
	 * interfaces (a router as endpoint) the first segment may leave by another one: look
	 * the new destination up and, when it does, send the packet there. (Redirected
	 * packets come through an egress program again; with Next Header 43 they pass.) */
	struct bpf_fib_lookup fib = {};
	fib.family = AF_INET6_;
	fib.ifindex = skb->ifindex;
	__builtin_memcpy(fib.ipv6_src, key.saddr, 16);
	__builtin_memcpy(fib.ipv6_dst, v->daddr, 16);
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT | BPF_FIB_LOOKUP_SKIP_NEIGH) == BPF_FIB_LKUP_RET_SUCCESS &&
	    fib.ifindex != skb->ifindex) {
		struct bpf_redir_neigh nh = { .nh_family = AF_INET6_ };
		__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, 16);
		bump(CSRH_STEER_STAT_REDIRECTED);
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
