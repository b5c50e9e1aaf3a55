/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec tracer plus three alternative ways of counting forks, which gadget.yaml makes
 * alternatives of one parameter: an lsm program (where the BPF LSM is active) and two raw
 * tracepoints. Each counts in its own slot of gtest_alt_hits.
 */
#include "exec.bpf.c"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} gtest_alt_hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&gtest_alt_hits, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(gtest_alt_lsm, struct linux_binprm *bprm, int ret)
{
	hit(0);
	return ret;
}

SEC("raw_tracepoint/sched_process_exec")
int gtest_alt_tp(void *ctx)
{
	hit(1);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int gtest_alt_tp2(void *ctx)
{
	hit(2);
	return 0;
}
