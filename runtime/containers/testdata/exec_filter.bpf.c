/* SPDX-License-Identifier: Apache-2.0 */
/* Test program: one record per exec, filtered in the kernel by gadget_mntns_filter_map. */
#include <gadget.h>

struct exec_event {
	gadget_mntns_id mntns_id;
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	gadget_mntns_id mntns_id = gadget_get_current_mntns_id();
	struct exec_event *e;

	if (gadget_should_discard_mntns_id(mntns_id))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->mntns_id = mntns_id;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
