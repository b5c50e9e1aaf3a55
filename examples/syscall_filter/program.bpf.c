// SPDX-License-Identifier: Apache-2.0

//go:build ignore

/*
 * syscall_filter: one event per call of the syscalls the user lists. The WASM module (go/)
 * turns the names into this kernel's numbers and fills syscall_filter before the program
 * attaches, so the filtering happens in the kernel and no unwanted event is ever copied out.
 */
#include <gadget.h>

struct event {
	struct gadget_process proc;
	gadget_syscall syscall;
	gadget_timestamp timestamp;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u8);
} syscall_filter SEC(".maps");

GADGET_TRACER_MAP(events, 256 * 1024);
GADGET_TRACER(syscalls, events, event);

SEC("tracepoint/raw_syscalls/sys_enter")
int syscall_filter_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 nr = (__u32)ctx->id;
	struct event *e;

	if (!bpf_map_lookup_elem(&syscall_filter, &nr))
		return 0;
	if (gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return 0;
	e = gadget_reserve_buf(events, sizeof(*e));
	if (!e)
		return 0;
	gadget_process_populate(&e->proc);
	e->syscall = nr;
	e->timestamp = bpf_ktime_get_boot_ns();
	gadget_submit_buf(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
