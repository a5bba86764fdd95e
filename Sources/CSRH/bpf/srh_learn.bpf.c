// SPDX-License-Identifier: GPL-2.0
/*
 * srte tc ingress program: remembers the SRH that arrives on each TCP flow, so
 * that `srte serve --reflect` can steer the replies along the reversed list.
 * Key: the flow as the receiving host sees it (local = IPv6 destination).
 * Value: the SRH as received (same layout as the steering map's value).
 * Only the first SRH of a flow is kept (BPF_NOEXIST); userspace deletes
 * entries it has handled. Built and embedded like srh_steer.bpf.c.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../include/csrh_steer_abi.h"

#ifndef TCX_NEXT
#define TCX_NEXT (-1)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CSRH_STEER_MAX_FLOWS);
	__type(key, struct csrh_steer_key);
	__type(value, struct csrh_steer_value);
} srte_learned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csrh_steer_value);
} srte_scratch SEC(".maps");

SEC("tc")
int srte_srh_learn(struct __sk_buff *skb)
{
	struct ipv6hdr ip6;
	__u8 fixed[8];
	__u16 ports[2];
	struct csrh_steer_key key = {};
	__u32 zero = 0, len, i;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return TCX_NEXT;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof ip6))
		return TCX_NEXT;
	if (ip6.nexthdr != 43)
		return TCX_NEXT;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof ip6, fixed, 8))
		return TCX_NEXT;
	if (fixed[0] != IPPROTO_TCP || fixed[2] != 4)        /* SRH followed by TCP */
		return TCX_NEXT;
	len = ((__u32)fixed[1] + 1) * 8;
	if (len > CSRH_STEER_MAX_SRH)
		return TCX_NEXT;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof ip6 + len, ports, 4))
		return TCX_NEXT;
	__builtin_memcpy(key.saddr, &ip6.daddr, 16);          /* local = this host */
	__builtin_memcpy(key.daddr, &ip6.saddr, 16);
	key.sport = ports[1];
	key.dport = ports[0];
	if (bpf_map_lookup_elem(&srte_learned, &key))
		return TCX_NEXT;
	struct csrh_steer_value *v = bpf_map_lookup_elem(&srte_scratch, &zero);
	if (!v)
		return TCX_NEXT;
	v->length = len;
	for (i = 0; i < CSRH_STEER_MAX_SRH / 8; i++) {
		if (i * 8 >= len)
			break;
		if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof ip6 + i * 8, &v->srh[i * 8], 8))
			return TCX_NEXT;
	}
	bpf_map_update_elem(&srte_learned, &key, v, BPF_NOEXIST);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
