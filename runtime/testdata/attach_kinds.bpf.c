/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One program per attach kind that needs no kprobes, each counting its hits in gtest_hits:
 * 0 tracepoint, 1 raw_tracepoint, 2 tp_btf, 3 uprobe (target set by attach_to), 4 iter.
 */
#include <gadget.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} gtest_hits SEC(".maps");

static __always_inline void hit(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&gtest_hits, &i);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tracepoint/sched/sched_process_exec")
int gtest_tp(void *ctx)
{
	hit(0);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int gtest_rawtp(void *ctx)
{
	hit(1);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int gtest_tpbtf(void *ctx)
{
	hit(2);
	return 0;
}

SEC("uprobe/placeholder:placeholder")
int gtest_uprobe(void *ctx)
{
	hit(3);
	return 0;
}

SEC("iter/task")
int gtest_iter(struct bpf_iter__task *ctx)
{
	hit(4);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
