// SPDX-License-Identifier: Apache-2.0

//go:build ignore

/*
 * exec_annotate: one event per successful exec. The kernel side stays minimal; the WASM module
 * (go/) adds a computed field and drops the events of commands the user ignores.
 */
#include <gadget.h>

struct event {
	struct gadget_process proc;
	gadget_timestamp timestamp;
};

GADGET_TRACER_MAP(events, 256 * 1024);
GADGET_TRACER(exec, events, event);

SEC("tracepoint/sched/sched_process_exec")
int exec_annotate(void *ctx)
{
	gadget_mntns_id mntns_id = gadget_get_current_mntns_id();
	struct event *e;

	if (gadget_should_discard_mntns_id(mntns_id))
		return 0;
	e = gadget_reserve_buf(events, sizeof(*e));
	if (!e)
		return 0;
	gadget_process_populate(&e->proc);
	e->timestamp = bpf_ktime_get_boot_ns();
	gadget_submit_buf(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
