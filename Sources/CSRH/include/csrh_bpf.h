/*
 * Thin libbpf shims under LinuxSystem's BPFObject and BPFMap: load an object
 * from memory, attach its program through a TCX link (the kernel detaches it
 * when the last fd to the link closes, e.g. when the process dies) or a classic
 * tc filter, and read and write maps. Every function returns 0 or a
 * negative errno; libbpf's own log (verifier output included) is captured so
 * the caller can show it.
 */
#ifndef CSRH_BPF_H
#define CSRH_BPF_H

#include <stddef.h>
#include <stdint.h>
#include "csrh_steer_abi.h"

int csrh_bpf_map_update(int map_fd, const void *key, const void *value);
int csrh_bpf_map_delete(int map_fd, const void *key);
/* Sum of a per-CPU u64 array slot over all possible CPUs. */
int csrh_bpf_percpu_u64_sum(int map_fd, uint32_t index, uint64_t *sum);

/* Number of programs attached to `ifindex`'s TCX egress (in the caller's netns). */
int csrh_bpf_tcx_egress_count(int ifindex, uint32_t *count);

/* Generic: load an object, find a map, attach its only program to a TCX hook. */
struct csrh_bpf_object;
int csrh_bpf_object_load(const void *buf, size_t len, struct csrh_bpf_object **out);
/* The same, with the object's map `map` replaced by the existing map `map_fd` (which must have
 * the same type, key, value and size): two programs then share one map. */
int csrh_bpf_object_load_reusing(const void *buf, size_t len, const char *map, int map_fd, struct csrh_bpf_object **out);
int csrh_bpf_object_map_fd(struct csrh_bpf_object *o, const char *map);
/* ingress = 1: BPF_TCX_INGRESS, else BPF_TCX_EGRESS. Returns the link fd in *link_fd. */
int csrh_bpf_object_attach_tcx(struct csrh_bpf_object *o, int ifindex, int ingress, int *link_fd);
void csrh_bpf_object_close(struct csrh_bpf_object *o);
/* Attaches the object's only program to the cgroup v2 directory `cgroup_path` as a sock_ops
 * program through a bpf_link; returns the link fd in *link_fd. */
int csrh_bpf_object_attach_cgroup_sockops(struct csrh_bpf_object *o, const char *cgroup_path, int *link_fd);
/* Classic tc attach (clsact qdisc, filter handle 1, priority 1, replacing one there) that
 * outlives the process: the filter holds the program, and the interface's removal (or
 * its namespace's) removes the filter. ingress = 1: ingress, else egress. */
int csrh_bpf_object_attach_tc(struct csrh_bpf_object *o, int ifindex, int ingress);
/* An fd of map `name` (kernel names are cut at 15 characters) of the program that
 * csrh_bpf_object_attach_tc attached to `ifindex`; -ENOENT when there is none. */
int csrh_bpf_tc_attached_map_fd(int ifindex, int ingress, const char *name);
int csrh_bpf_map_next_key(int map_fd, const void *key, void *next);   /* key NULL: the first */
int csrh_bpf_map_lookup(int map_fd, const void *key, void *value);

/* The libbpf messages since the last call (verifier logs included), NUL-terminated. */
const char *csrh_bpf_last_log(void);

#endif
