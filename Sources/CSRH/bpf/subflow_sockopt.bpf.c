/* srte per-subflow socket options: a cgroup sock_ops program.
 *
 * Upstream MPTCP has no socket option that reaches one subflow. A sock_ops
 * program runs for every TCP socket of its cgroup -- MPTCP subflows included,
 * since they inherit the MPTCP socket's cgroup -- and may call
 * bpf_setsockopt() on it. The kernel's own selftest (bpf/progs/mptcp_subflow.c)
 * uses this to give subflows their own mark and congestion control.
 *
 * srte fills `srte_subflow_opts` ((netns cookie, 4-tuple) -> options, with a
 * generation number) and `srte_ports` (its local port range). The program is
 * attached to a cgroup, which spans network namespaces, so the key carries the
 * socket's netns cookie: the same 4-tuple in two namespaces (two testbed labs
 * with the same addresses) are two subflows. Cookie 0 is a wildcard, looked up
 * when no entry names the socket's namespace. IPv4 subflows (AF_INET sockets)
 * are keyed by their IPv4-mapped addresses. The program:
 *  - at TCP_CONNECT_CB of a socket whose local port is in srte's range, turns on
 *    RTT callbacks for it, so later changes reach the live subflow at its next
 *    RTT sample (i.e. with its next ACK); with `mptcp` set in `srte_ports`, also
 *    for every MPTCP subflow (bpf_skc_to_mptcp_sock), connecting or passively
 *    established (the srte agent: any subflow of the programs it serves);
 *  - at CONNECT / ACTIVE_ESTABLISHED / PASSIVE_ESTABLISHED / RTT callbacks,
 *    applies the options of the socket's 4-tuple if their generation changed,
 *    and records the result: the OR of the errors, and for each integer option
 *    its own error and the value bpf_getsockopt reads back right after (what
 *    the kernel made of it: SO_SNDBUF doubled and clamped, for instance);
 *  - answers a pending read (read_gen != read_done_gen): bpf_getsockopt of one
 *    integer option, so the agent can read what only the socket itself knows.
 *
 * Compiled during `swift build` by Plugins/BPFEmbed (clang -target bpf) and
 * embedded in SubflowSteering; no object is committed.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SOL_SOCKET     1
#define SO_MARK        36
#define SOL_TCP        6
#define TCP_CONGESTION 13
#define SOL_IPV6       41
#define IPV6_TCLASS    67
#define SOL_IP         0
#define IP_TOS         1
#define AF_INET        2
#define AF_INET6       10

/* Keep in sync with csrh_bpf.c. */
struct srte_key {
	__u32 local[4];   /* network byte order */
	__u32 remote[4];
	__u32 lport;      /* host byte order */
	__u32 rport;
	__u64 netns;      /* bpf_get_netns_cookie(); 0 = any namespace */
};

#define SRTE_INT_OPTS 8

struct srte_intopt {
	__s32 level, name, value;
	__s32 effective;    /* bpf_getsockopt right after setting it */
	__s32 error;        /* bpf_setsockopt's result, or bpf_getsockopt's */
};

struct srte_opts {
	__u32 gen;          /* bumped by srte on every change */
	__u32 applied_gen;  /* gen the program last applied */
	__u32 flags;        /* 1 mark, 2 IPV6_TCLASS, 4 congestion control, 8 IP_TOS (from tclass) */
	__u32 mark;
	__s32 tclass;
	__s32 last_error;   /* OR of bpf_setsockopt results (0 = all applied) */
	char cc[16];
	__u32 nints;        /* integer options in use in ints[] */
	__s32 read_level, read_name;
	__u32 read_gen, read_done_gen;
	__s32 read_value, read_error;
	__u32 pad;
	struct srte_intopt ints[SRTE_INT_OPTS];
};

struct srte_range { __u32 lo, hi, mptcp; };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct srte_key);
	__type(value, struct srte_opts);
} srte_subflow_opts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct srte_range);
} srte_ports SEC(".maps");

SEC("sockops")
int srte_sockops(struct bpf_sock_ops *ops)
{
	__u32 op = ops->op;

	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_RTT_CB)
		return 1;
	if (ops->family != AF_INET6 && ops->family != AF_INET)
		return 1;

	__u32 lport = ops->local_port;
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB || op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		__u32 zero = 0;
		int on = 0;
		struct srte_range *r = bpf_map_lookup_elem(&srte_ports, &zero);
		if (r && op == BPF_SOCK_OPS_TCP_CONNECT_CB && lport >= r->lo && lport <= r->hi)
			on = 1;
		if (r && !on && r->mptcp) {
			struct bpf_sock *sk = ops->sk;
			if (sk && bpf_skc_to_mptcp_sock(sk))
				on = 1;
		}
		if (on)
			bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTT_CB_FLAG);
	}

	/* Every address field read before choosing (a branch per family lets clang share the
	 * field offset between the branches: a modified context pointer, which the verifier
	 * refuses). An IPv4 subflow (AF_INET socket) is keyed by its IPv4-mapped addresses
	 * (::ffff:a.b.c.d), as srte names them. */
	__u32 l4 = ops->local_ip4, r4 = ops->remote_ip4;
	__u32 l0 = ops->local_ip6[0], l1 = ops->local_ip6[1], l2 = ops->local_ip6[2], l3 = ops->local_ip6[3];
	__u32 r0 = ops->remote_ip6[0], r1 = ops->remote_ip6[1], r2 = ops->remote_ip6[2], r3 = ops->remote_ip6[3];
	/* (and kept in registers: otherwise clang turns the selects below into selects of field
	 * addresses) */
	asm volatile("" : "+r"(l4), "+r"(r4), "+r"(l3), "+r"(r3));
	asm volatile("" : "+r"(l0), "+r"(l1), "+r"(l2), "+r"(r0), "+r"(r1), "+r"(r2));
	int v4 = ops->family == AF_INET;
	struct srte_key k = {};
	k.local[0] = v4 ? 0 : l0;
	k.local[1] = v4 ? 0 : l1;
	k.local[2] = v4 ? bpf_htonl(0xffff) : l2;
	k.local[3] = v4 ? l4 : l3;
	k.remote[0] = v4 ? 0 : r0;
	k.remote[1] = v4 ? 0 : r1;
	k.remote[2] = v4 ? bpf_htonl(0xffff) : r2;
	k.remote[3] = v4 ? r4 : r3;
	k.lport = lport;
	k.rport = bpf_ntohl(ops->remote_port);

	k.netns = bpf_get_netns_cookie(ops);
	struct srte_opts *o = bpf_map_lookup_elem(&srte_subflow_opts, &k);
	if (!o) {
		k.netns = 0;
		o = bpf_map_lookup_elem(&srte_subflow_opts, &k);
	}
	if (!o)
		return 1;
	if (o->read_gen != o->read_done_gen) {
		int v = 0;
		o->read_error = bpf_getsockopt(ops, o->read_level, o->read_name, &v, sizeof v);
		o->read_value = v;
		o->read_done_gen = o->read_gen;
	}
	if (o->gen == o->applied_gen)
		return 1;
	int err = 0;
	if (o->flags & 1) {
		int m = o->mark;
		err |= bpf_setsockopt(ops, SOL_SOCKET, SO_MARK, &m, sizeof m);
	}
	if (o->flags & 2) {
		int t = o->tclass;
		err |= bpf_setsockopt(ops, SOL_IPV6, IPV6_TCLASS, &t, sizeof t);
	}
	if (o->flags & 8) {
		int t = o->tclass;
		err |= bpf_setsockopt(ops, SOL_IP, IP_TOS, &t, sizeof t);
	}
	if (o->flags & 4) {
		char cc[16];
		__builtin_memcpy(cc, o->cc, sizeof cc);
		cc[15] = 0;
		err |= bpf_setsockopt(ops, SOL_TCP, TCP_CONGESTION, cc, sizeof cc);
	}
#pragma clang loop unroll(full)
	for (int i = 0; i < SRTE_INT_OPTS; i++) {
		if ((__u32)i >= o->nints)
			break;
		int v = o->ints[i].value, e;
		e = bpf_setsockopt(ops, o->ints[i].level, o->ints[i].name, &v, sizeof v);
		if (e == 0) {
			v = 0;
			e = bpf_getsockopt(ops, o->ints[i].level, o->ints[i].name, &v, sizeof v);
			o->ints[i].effective = v;
		}
		o->ints[i].error = e;
		err |= e;
	}
	o->last_error = err;
	o->applied_gen = o->gen;
	return 1;
}

char _license[] SEC("license") = "GPL";
