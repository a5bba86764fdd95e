// SPDX-License-Identifier: GPL-2.0
/*
 * Connect-time SRH steering: a cgroup sock_ops program. At BPF_SOCK_OPS_TCP_CONNECT_CB the local
 * port is assigned and the SYN not yet built (tcp_connect() calls the hook first), so an entry
 * written here into the tc steering program's flow map (srte_flows, shared with
 * srh_steer.bpf.c) puts the SRH on the SYN itself. The layouts are in csrh_steer_abi.h.
 *
 * - Only sockets of the configured network namespace (a cgroup spans namespaces).
 * - The first matching rule wins (destination, port, source, uid and cgroup of the process calling
 *   connect(), which for an application's initial subflow is the application); an existing entry
 *   (a subflow srte steered itself) is kept (BPF_NOEXIST). The matched rule's tag is recorded per
 *   flow for the agent.
 * - Sockets the agent itself connects (its SUBFLOW_CREATE joins: the hook runs inside the netlink
 *   request, in the agent's task) never match rules; they take the pending join the agent armed.
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

/* The flows whose srte_flows entry this program wrote (deleted at close). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CSRH_STEER_MAX_FLOWS);
	__type(key, struct csrh_steer_key);
	__type(value, __u8);
} srte_cowned SEC(".maps");

/* The connections a rule matched, for the agent (which deletes a record once read). LRU:
 * records the agent never reads (it was not running, or lost the event) cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CSRH_STEER_MAX_FLOWS);
	__type(key, struct csrh_steer_key);
	__type(value, struct csrh_connect_match);
} srte_cmatch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csrh_connect_join);
} srte_cjoin SEC(".maps");

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

static __always_inline int prefix_holds(const __u32 *a, const __u32 *net, const __u32 *mask)
{
	return (a[0] & mask[0]) == net[0] && (a[1] & mask[1]) == net[1] &&
	       (a[2] & mask[2]) == net[2] && (a[3] & mask[3]) == net[3];
}

/* Writes `v` (Segment List[0], and the Destination Address when Segments Left is 0, set to the
 * destination `d`) as the flow's steering and asks for the state callback; `mss` 0 leaves the
 * MSS alone. A rule's match (`tag` != 0) is recorded for the agent. */
static __always_inline void steer_flow(struct bpf_sock_ops *ops, struct csrh_steer_key *k,
				       struct csrh_steer_value *v, const __u32 *d, __u32 mss, __u32 tag)
{
	if (v && v->length > 0) {
		/* Segment List[0], the final destination, starts at byte 8 of the SRH (also in a
		 * reduced or compressed SRH: the destination is never compressed or left out). */
		__u32 *seg0 = (__u32 *)(v->srh + 8);
		seg0[0] = d[0];
		seg0[1] = d[1];
		seg0[2] = d[2];
		seg0[3] = d[3];
		if (v->srh[3] == 0) {
			/* Segments Left 0: the destination is the active segment too. */
			__u32 *da = (__u32 *)v->daddr;
			da[0] = d[0];
			da[1] = d[1];
			da[2] = d[2];
			da[3] = d[3];
		}
		if (bpf_map_update_elem(&srte_flows, k, v, BPF_NOEXIST) != 0) {
			bump(CSRH_CONNECT_STAT_KEPT);
		} else {
			__u8 one = 1;
			bpf_map_update_elem(&srte_cowned, k, &one, BPF_ANY);
			if (mss) {
				int s = mss;
				bpf_setsockopt(ops, SOL_TCP_, TCP_MAXSEG, &s, sizeof(s));
			}
			bump(CSRH_CONNECT_STAT_STEERED);
		}
	}
	if (tag) {
		struct csrh_connect_match m = { .tag = tag, .closed = 0 };
		bpf_map_update_elem(&srte_cmatch, k, &m, BPF_ANY);
	}
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* A socket the agent connects: the pending join, if it is armed for this destination. */
static __always_inline int on_agent_connect(struct bpf_sock_ops *ops, const __u32 *d, __u16 dport)
{
	__u32 zero = 0;
	struct csrh_connect_join *j = bpf_map_lookup_elem(&srte_cjoin, &zero);
	if (!j || !j->armed || j->dport != dport)
		return 1;
	const __u32 *jd = (const __u32 *)j->daddr;
	if (jd[0] != d[0] || jd[1] != d[1] || jd[2] != d[2] || jd[3] != d[3])
		return 1;
	j->armed = 0;
	j->sport = (__u16)ops->local_port;
	bump(CSRH_CONNECT_STAT_JOINS);
	struct csrh_steer_key k = {};
	flow_key(ops, &k);
	if (j->srh.length == 0)
		return 1;
	struct csrh_steer_value *v = bpf_map_lookup_elem(&srte_cscratch, &zero);
	if (!v)
		return 1;
	__builtin_memcpy(v, &j->srh, sizeof(*v));
	steer_flow(ops, &k, v, d, j->mss, 0);
	return 1;
}

static __always_inline int on_connect(struct bpf_sock_ops *ops)
{
	__u32 zero = 0;
	struct csrh_connect_config *cfg = bpf_map_lookup_elem(&srte_cconfig, &zero);
	if (!cfg || cfg->netns == 0 || bpf_get_netns_cookie(ops) != cfg->netns)
		return 1;
	__u32 d[4] = { ops->remote_ip6[0], ops->remote_ip6[1], ops->remote_ip6[2], ops->remote_ip6[3] };
	__u32 s[4] = { ops->local_ip6[0], ops->local_ip6[1], ops->local_ip6[2], ops->local_ip6[3] };
	__u16 dport = (__u16)bpf_ntohl(ops->remote_port);
	__u16 sport = (__u16)ops->local_port;

	if (cfg->agent_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == cfg->agent_tgid)
		return on_agent_connect(ops, d, dport);
	if (sport >= cfg->skip_port_lo && sport <= cfg->skip_port_hi && cfg->skip_port_hi != 0)
		return 1;
	__u32 uid = (__u32)bpf_get_current_uid_gid();

	for (__u32 i = 0; i < CSRH_CONNECT_MAX_RULES; i++) {
		__u32 idx = i;
		struct csrh_connect_rule *r = bpf_map_lookup_elem(&srte_crules, &idx);
		if (!r || !r->in_use)
			continue;
		if (!prefix_holds(d, r->net, r->mask) || !prefix_holds(s, r->src_net, r->src_mask))
			continue;
		if (dport < r->port_lo || dport > r->port_hi || uid < r->uid_lo || uid > r->uid_hi)
			continue;
		if (r->cgroup_id && bpf_get_current_ancestor_cgroup_id(r->cgroup_level) != r->cgroup_id)
			continue;

		struct csrh_steer_key k = {};
		flow_key(ops, &k);
		if (r->srh.length == 0) {
			steer_flow(ops, &k, 0, d, 0, r->tag);   /* the IGP path: only the match is recorded */
			return 1;
		}
		struct csrh_steer_value *v = bpf_map_lookup_elem(&srte_cscratch, &zero);
		if (!v)
			return 1;
		__builtin_memcpy(v, &r->srh, sizeof(*v));
		steer_flow(ops, &k, v, d, r->mss, r->tag);
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
	if (bpf_map_lookup_elem(&srte_cowned, &k)) {
		bpf_map_delete_elem(&srte_flows, &k);
		bpf_map_delete_elem(&srte_cowned, &k);
		bump(CSRH_CONNECT_STAT_REMOVED);
	}
	struct csrh_connect_match *m = bpf_map_lookup_elem(&srte_cmatch, &k);
	if (m)
		m->closed = 1;          /* the agent has not read it yet: it deletes it */
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
