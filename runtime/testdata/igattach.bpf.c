/* SPDX-License-Identifier: Apache-2.0 */
/*
 * More of Inspektor Gadget's conventions, written the way IG's gadgets are:
 *   - a perf_event program (SEC("perf_event/<name>")), configured in gadget.yaml under
 *     programs.<name>.perf and .sampler: it counts its samples;
 *   - uprobes on a symbol libc does not have and on a library that is not installed: the
 *     gadget runs without them;
 *   - trailing data: records longer than their struct, the payload after it, named by the data
 *     source's ebpf.rest.name (and its length by ebpf.rest.len), sent through a perf event
 *     array and a ring buffer.
 * -DONLY_MISSING keeps only the two uprobes that cannot attach.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <gadget/macros.h>
#include <gadget/types.h>

/* Calls of getsid() with this argument make the trailing-data records. */
#define GTEST_REST_MAGIC 0x7eadbeef
#define GTEST_PAYLOAD_LEN 11

/* uprobes that cannot attach: their programs are never run. */
SEC("uprobe/libc:gtest_no_such_function")
int BPF_UPROBE(gtest_ig_nosym)
{
	return 0;
}

SEC("uretprobe/libgtest_absent:gtest_fn")
int BPF_URETPROBE(gtest_ig_nolib)
{
	return 0;
}

#ifndef ONLY_MISSING

/* [0] samples of the perf_event program */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gtest_ig_samples SEC(".maps");

SEC("perf_event/gtest_sampler")
int gtest_ig_sample(struct bpf_perf_event_data *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&gtest_ig_samples, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

struct gtest_rest_event {
	gadget_pid pid;
	__u32 payload_len;
};

/* The event and its payload, sent as one record. */
struct gtest_rest_record {
	struct gtest_rest_event ev;
	char payload[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} gtest_rest_perf SEC(".maps");
GADGET_TRACER(gtest_rest, gtest_rest_perf, gtest_rest_event);

GADGET_TRACER_MAP(gtest_rest_ring, 4096);
GADGET_TRACER(gtest_rest_all, gtest_rest_ring, gtest_rest_event);

SEC("tracepoint/syscalls/sys_enter_getsid")
int gtest_ig_getsid(struct trace_event_raw_sys_enter *ctx)
{
	struct gtest_rest_record r = {};

	if ((__u32)ctx->args[0] != GTEST_REST_MAGIC)
		return 0;
	r.ev.pid = bpf_get_current_pid_tgid() >> 32;
	r.ev.payload_len = GTEST_PAYLOAD_LEN;
	__builtin_memcpy(r.payload, "gadgetry-rest-16", 16);
	bpf_perf_event_output(ctx, &gtest_rest_perf, BPF_F_CURRENT_CPU, &r, sizeof(r));
	bpf_ringbuf_output(&gtest_rest_ring, &r, sizeof(r), 0);
	return 0;
}

#endif

char LICENSE[] SEC("license") = "GPL";
