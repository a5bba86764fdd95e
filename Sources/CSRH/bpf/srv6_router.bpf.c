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
 * (up to eight SIDs), as consecutive seg6local routes would be. Packets to a
 * SID without a usable SRH are dropped, as seg6local drops them. Each SID
 * counts the packets and bytes it processed and the packets it dropped.
 * Upper-layer checksums cover the final destination, which does not change.
 *
 * NEXT-C-SID (RFC 9800 §4.1.1, §4.2.1): a SID of flavor CSRH_ROUTER_NEXT_CSID is keyed by
 * block, C-SID, zeros (the router's End C-SID, or an End.X C-SID from its local range) and
 * matches every Destination Address that starts with them (the block and C-SID lengths are in
 * srte_csid). If the argument — the bits after the active C-SID — is not zero, the bits after
 * the block shift left by the C-SID length (zero-filled) and the packet goes on with the new
 * Destination Address; the SRH is not touched and need not be there. Otherwise the SRH is
 * processed as above. A C-SID from the local range (End.X) is taken only right after the
 * router's own End C-SID in the same pass: every router may use the same local values.
 * Segments Left may be Last Entry + 1 (a reduced SRH, RFC 8754 §4.1.1): the entry read is
 * Segment List[Segments Left - 1] as always. An address whose next C-SID is zero but whose
 * later bits are not is no container (containers are zero-padded after their last C-SID): it
 * is left to the kernel, which delivers it when it is a local address (the local table wins
 * over a seg6local prefix route the same way).
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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csrh_router_csid);
} srte_csid SEC(".maps");

#define IP6_OFF ETH_HLEN
#define SRH_OFF (ETH_HLEN + sizeof(struct ipv6hdr))
#define DADDR_OFF (IP6_OFF + offsetof(struct ipv6hdr, daddr))
#define MAX_PASSES 8

static __always_inline int drop(struct csrh_router_sid *sid)
{
	__sync_fetch_and_add(&sid->errors, 1);
	return TC_ACT_SHOT;
}

/* 128-bit addresses as two host-order halves: the verifier refuses variable offsets into the
 * stack, so C-SIDs are shifted and masked as integers, not bytes. */
struct u128 {
	__u64 hi, lo;
};

static __always_inline struct u128 load128(const struct in6_addr *a)
{
	__u64 h, l;
	__builtin_memcpy(&h, a, 8);
	__builtin_memcpy(&l, (const __u8 *)a + 8, 8);
	struct u128 v = { bpf_be64_to_cpu(h), bpf_be64_to_cpu(l) };
	return v;
}

static __always_inline void store128(struct in6_addr *a, struct u128 v)
{
	__u64 h = bpf_cpu_to_be64(v.hi), l = bpf_cpu_to_be64(v.lo);
	__builtin_memcpy(a, &h, 8);
	__builtin_memcpy((__u8 *)a + 8, &l, 8);
}

/* The top `n` bits (0..128) set. */
static __always_inline struct u128 top_bits(__u32 n)
{
	struct u128 m = { 0, 0 };
	if (n >= 128) {
		m.hi = m.lo = ~0ULL;
	} else if (n >= 64) {
		m.hi = ~0ULL;
		m.lo = n == 64 ? 0 : ~0ULL << (128 - n);
	} else if (n > 0) {
		m.hi = ~0ULL << (64 - n);
	}
	return m;
}

/* `v` shifted left by `n` bits (1..127). */
static __always_inline struct u128 shl128(struct u128 v, __u32 n)
{
	struct u128 r;
	if (n >= 64) {
		r.hi = v.lo << (n - 64);
		r.lo = 0;
	} else {
		r.hi = (v.hi << n) | (v.lo >> (64 - n));
		r.lo = v.lo << n;
	}
	return r;
}

SEC("tc")
int srte_srv6_router(struct __sk_buff *skb)
{
	struct in6_addr da, key;
	struct csrh_router_sid *sid;
	__u8 srh[8];
	__be16 proto;
	__u8 nexthdr, hops;
	__u32 zero = 0, block = 0, clen = 0;
	int i, after_end = 0;

	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, 2) ||
	    proto != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	struct csrh_router_csid *cfg = bpf_map_lookup_elem(&srte_csid, &zero);
	if (cfg && cfg->csid_bytes > 0 && cfg->block_bytes + cfg->csid_bytes <= 16) {
		block = (cfg->block_bytes & 15) * 8;       /* in bits from here on */
		clen = (cfg->csid_bytes & 15) * 8;
	}
	for (i = 0; i < MAX_PASSES; i++) {
		int may_local = after_end;
		after_end = 0;
		if (bpf_skb_load_bytes(skb, DADDR_OFF, &da, 16))
			return TC_ACT_OK;
		sid = bpf_map_lookup_elem(&srte_sids, &da);
		struct u128 v = load128(&da);
		if (!sid && clen) {
			/* Block and active C-SID, zeros after: the NEXT-C-SID SID the address starts with. */
			struct u128 m = top_bits(block + clen), k = { v.hi & m.hi, v.lo & m.lo };
			store128(&key, k);
			sid = bpf_map_lookup_elem(&srte_sids, &key);
			if (sid && sid->flavor != CSRH_ROUTER_NEXT_CSID)
				sid = 0;
		}
		if (!sid || (sid->local && !may_local))
			return TC_ACT_OK;            /* not (or no longer) ours: the kernel routes it */
		int csid = sid->flavor == CSRH_ROUTER_NEXT_CSID && clen;
		struct u128 used = top_bits(block + clen), next = top_bits(block + 2 * clen);
		__u64 argument = (v.hi & ~used.hi) | (v.lo & ~used.lo);
		/* Bits set after a zero next C-SID: no container (they are zero-padded after their
		 * last C-SID) but an address inside the C-SID's prefix, e.g. one the router has on lo:
		 * left to the kernel, as its local table would win over a seg6local prefix route. */
		if (csid && argument && !((v.hi & next.hi & ~used.hi) | (v.lo & next.lo & ~used.lo)))
			return TC_ACT_OK;
		if (csid && argument) {
			/* NEXT-C-SID, argument not zero: the bits after the block shift left by the C-SID
			 * length, so the next C-SID of the container becomes active; no SRH processing. */
			struct u128 b = top_bits(block), after = shl128(v, clen);
			struct u128 n = { (v.hi & b.hi) | (after.hi & ~b.hi), (v.lo & b.lo) | (after.lo & ~b.lo) };
			store128(&da, n);
		} else {
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
			if (bpf_skb_store_bytes(skb, SRH_OFF + 3, &left, 1, BPF_F_RECOMPUTE_CSUM))
				return drop(sid);
		}
		if (bpf_skb_store_bytes(skb, DADDR_OFF, &da, 16, BPF_F_RECOMPUTE_CSUM))
			return drop(sid);
		/* End.X forwards: a packet it must drop for its hop limit counts as an error only. */
		if (sid->behavior == CSRH_ROUTER_END_X &&
		    (bpf_skb_load_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, hop_limit), &hops, 1) || hops <= 1))
			return drop(sid);
		__sync_fetch_and_add(&sid->packets, 1);
		__sync_fetch_and_add(&sid->bytes, skb->len);
		if (sid->behavior != CSRH_ROUTER_END_X) {
			after_end = csid;            /* an End.X C-SID of ours may follow */
			continue;                    /* End: the next SID may be ours too */
		}
		hops -= 1;
		bpf_skb_store_bytes(skb, IP6_OFF + offsetof(struct ipv6hdr, hop_limit), &hops, 1, BPF_F_RECOMPUTE_CSUM);
		struct bpf_redir_neigh nh = { .nh_family = AF_INET6_ };
		__builtin_memcpy(nh.ipv6_nh, sid->nexthop, 16);
		return bpf_redirect_neigh(sid->ifindex, &nh, sizeof(nh), 0);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
