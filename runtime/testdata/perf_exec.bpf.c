/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An exec tracer that writes to a perf event array instead of a ring buffer: one record per
 * successful execve, sent with bpf_perf_event_output. Records are large (__pad) so that a
 * one-page per-CPU buffer overflows after a few of them.
 *
 * -DNO_LOST_MAP declares the perf event array by hand, without `<map>_lost_samples`, so the
 * only loss count is the kernel's lost-samples records.
 */
#include <gadget.h>

struct exec_record {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	char __pad[1500];
};

#ifdef NO_LOST_MAP
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} gtest_perf_events SEC(".maps");
#else
GADGET_TRACER_PERF_MAP(gtest_perf_events);
#endif
GADGET_TRACER(exec, gtest_perf_events, exec_record);

/* Too big for the BPF stack: the record is built in a per-CPU scratch slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_record);
} gtest_perf_scratch SEC(".maps");


SEC("tracepoint/sched/sched_process_exec")
int gtest_perf_exec(void *ctx)
{
	struct gadget_process p = {};
	struct exec_record *e;
	__u32 zero = 0;

	gadget_process_populate(&p);
	if (gadget_should_discard_data(p.mntns_id, p.pid, p.tid, p.comm, p.creds.uid,
				       p.creds.gid))
		return 0;
	e = bpf_map_lookup_elem(&gtest_perf_scratch, &zero);
	if (!e)
		return 0;
	__builtin_memcpy(&e->proc, &p, sizeof(p));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
#ifdef NO_LOST_MAP
	bpf_perf_event_output(ctx, &gtest_perf_events, BPF_F_CURRENT_CPU, e, sizeof(*e));
#else
	gadget_output_perf(ctx, gtest_perf_events, e, sizeof(*e));
#endif
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
