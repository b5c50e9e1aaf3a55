/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Markers that name the wrong things, one per -D flag, for the runtime's Prepare errors:
 * ITER_NO_PROG, ITER_NOT_ITER, MAPITER_NO_MAP, MAPITER_ARRAY, ELEM_NO_TARGET, ELEM_NO_MAP,
 * ELEM_NOT_ITER, ELEM_NO_PROG; and PERF_TRACER, a tracer on a perf event array, which is valid
 * (TestPerfTracerPrepare).
 */
#include <gadget.h>

struct gtest_rec {
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gtest_rec);
} gtest_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} gtest_perf SEC(".maps");

#ifdef ITER_NO_PROG
GADGET_ITER(snap, gtest_rec, gtest_nosuch);
#endif
#ifdef ITER_NOT_ITER
GADGET_ITER(snap, gtest_rec, gtest_tp);
#endif
#ifdef MAPITER_NO_MAP
GADGET_MAPITER(dump, gtest_nomap);
#endif
#ifdef MAPITER_ARRAY
GADGET_MAPITER(dump, gtest_array);
#endif
#ifdef PERF_TRACER
GADGET_TRACER(perf, gtest_perf, gtest_rec);
#endif

#if defined(ELEM_NO_TARGET) || defined(ELEM_NO_MAP)
/* A map-element iterator: it must name its map (GADGET_ITER_TARGET_MAP). */
GADGET_ITER(elems, gtest_rec, gtest_elems);
#ifdef ELEM_NO_MAP
GADGET_ITER_TARGET_MAP(gtest_elems, gtest_nomap);
#endif
SEC("iter/bpf_map_elem")
int gtest_elems(struct bpf_iter__bpf_map_elem *ctx)
{
	return 0;
}
#endif
#ifdef ELEM_NOT_ITER
GADGET_ITER_TARGET_MAP(gtest_tp, gtest_array);
#endif
#ifdef ELEM_NO_PROG
GADGET_ITER_TARGET_MAP(gtest_nosuch, gtest_array);
#endif

SEC("tracepoint/sched/sched_process_exec")
int gtest_tp(void *ctx)
{
	struct gtest_rec r = { .pid = bpf_get_current_pid_tgid() >> 32 };

	bpf_map_update_elem(&gtest_array, &(__u32){ 0 }, &r, BPF_ANY);
	bpf_perf_event_output(ctx, &gtest_perf, BPF_F_CURRENT_CPU, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
