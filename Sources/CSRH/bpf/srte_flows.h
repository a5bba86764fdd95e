/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flow map of srte's tc steering: 4-tuple → SRH. srh_steer.bpf.c reads it; srh_connect.bpf.c
 * writes it at connect time, sharing the steering program's map (BPFObject sharing). One
 * definition, so the two cannot disagree on its type, key, value or size.
 */
#ifndef SRTE_FLOWS_H
#define SRTE_FLOWS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../include/csrh_steer_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CSRH_STEER_MAX_FLOWS);
	__type(key, struct csrh_steer_key);
	__type(value, struct csrh_steer_value);
} srte_flows SEC(".maps");

#endif
