// SPDX-License-Identifier: GPL-2.0
/*
 * Connect-time SRH steering: a cgroup sock_ops program. At BPF_SOCK_OPS_TCP_CONNECT_CB the local
 * port is assigned and the SYN not yet built (tcp_connect() calls the hook first), so an entry
 * written here into the tc steering program's flow map (srte_flows, shared with
 * srh_steer.bpf.c) puts the SRH on the SYN itself. The layouts are in csrh_steer_abi.h.
 *
 * - Only sockets of the configured network namespace (a cgroup spans namespaces).
 * - The first matching rule wins; an existing entry (a subflow srte steered itself) is kept
 *   (BPF_NOEXIST).
 * - The socket's MSS leaves room for the SRH (TCP_MAXSEG), since the route MTU was looked up
 *   before the hook.
 * - Entries this program made are deleted when their socket reaches TCP_CLOSE.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../include/csrh_steer_abi.h"
#include "srte_flows.h"

#define AF_INET6_ 10
#define SOL_TCP_ 6


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CSRH_CONNECT_MAX_RULES);
	__type(key, __u32);
	__type(value, struct csrh_connect_rule);
} srte_crules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csrh_connect_config);
} srte_cconfig SEC(".maps");

/* The entries this program made (to delete at close), by flow. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CSRH_STEER_MAX_FLOWS);
	__type(key, struct csrh_steer_key);
	__type(value, __u8);
} srte_cowned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csrh_steer_value);
} srte_cscratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CSRH_CONNECT_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} srte_cstats SEC(".maps");

static __always_inline void bump(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&srte_cstats, &which);
	if (v)
		*v += 1;
}

static __always_inline void flow_key(struct bpf_sock_ops *ops, struct csrh_steer_key *k)
{
	__u32 *s = (__u32 *)k->saddr, *d = (__u32 *)k->daddr;
	s[0] = ops->local_ip6[0];
	s[1] = ops->local_ip6[1];
	s[2] = ops->local_ip6[2];
	s[3] = ops->local_ip6[3];
	d[0] = ops->remote_ip6[0];
	d[1] = ops->remote_ip6[1];
	d[2] = ops->remote_ip6[2];
	d[3] = ops->remote_ip6[3];
	k->sport = bpf_htons((__u16)ops->local_port);
	k->dport = bpf_htons((__u16)bpf_ntohl(ops->remote_port));
}

static __always_inline int on_connect(struct bpf_sock_ops *ops)
{
	__u32 zero = 0;
	struct csrh_connect_config *cfg = bpf_map_lookup_elem(&srte_cconfig, &zero);
	if (!cfg || cfg->netns == 0 || bpf_get_netns_cookie(ops) != cfg->netns)
		return 1;
	__u32 d0 = ops->remote_ip6[0], d1 = ops->remote_ip6[1], d2 = ops->remote_ip6[2], d3 = ops->remote_ip6[3];
	__u16 dport = (__u16)bpf_ntohl(ops->remote_port);

	for (__u32 i = 0; i < CSRH_CONNECT_MAX_RULES; i++) {
		__u32 idx = i;
		struct csrh_connect_rule *r = bpf_map_lookup_elem(&srte_crules, &idx);
		if (!r || !r->in_use)
			continue;
		if ((d0 & r->mask[0]) != r->net[0] || (d1 & r->mask[1]) != r->net[1] ||
		    (d2 & r->mask[2]) != r->net[2] || (d3 & r->mask[3]) != r->net[3])
			continue;
		if (dport < r->port_lo || dport > r->port_hi)
			continue;
		if (r->srh.length == 0)
			return 1;               /* the rule's first path is the IGP's: no SRH */

		struct csrh_steer_value *v = bpf_map_lookup_elem(&srte_cscratch, &zero);
		if (!v)
			return 1;
		__builtin_memcpy(v, &r->srh, sizeof(*v));
		/* Segment List[0], the final destination, starts at byte 8 of the SRH. */
		__u32 *seg0 = (__u32 *)(v->srh + 8);
		seg0[0] = d0;
		seg0[1] = d1;
		seg0[2] = d2;
		seg0[3] = d3;

		struct csrh_steer_key k = {};
		flow_key(ops, &k);
		if (bpf_map_update_elem(&srte_flows, &k, v, BPF_NOEXIST) != 0) {
			bump(CSRH_CONNECT_STAT_KEPT);
			return 1;
		}
		__u8 one = 1;
		bpf_map_update_elem(&srte_cowned, &k, &one, BPF_ANY);
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		if (r->mss) {
			int mss = r->mss;
			bpf_setsockopt(ops, SOL_TCP_, TCP_MAXSEG, &mss, sizeof(mss));
		}
		bump(CSRH_CONNECT_STAT_STEERED);
		return 1;
	}
	return 1;
}

static __always_inline int on_state(struct bpf_sock_ops *ops)
{
	if (ops->args[1] != BPF_TCP_CLOSE)
		return 1;
	struct csrh_steer_key k = {};
	flow_key(ops, &k);
	if (!bpf_map_lookup_elem(&srte_cowned, &k))
		return 1;
	bpf_map_delete_elem(&srte_flows, &k);
	bpf_map_delete_elem(&srte_cowned, &k);
	bump(CSRH_CONNECT_STAT_REMOVED);
	return 1;
}

SEC("sockops")
int srte_connect(struct bpf_sock_ops *ops)
{
	if (ops->family != AF_INET6_)
		return 1;
	switch (ops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		return on_connect(ops);
	case BPF_SOCK_OPS_STATE_CB:
		return on_state(ops);
	}
	return 1;
}

char _license[] SEC("license") = "GPL";
