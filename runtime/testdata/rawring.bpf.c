/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tracer that writes its ring buffer itself, with bpf_ringbuf_output and flags 0, as objects
 * built without <gadget/buffer.h> do (no gadgetry_rb_submit_flags): its records wake readers,
 * and the runtime drains the ring when the kernel wakes it (runtime/ringwaker.go). One record
 * per getppid of the process gtest_raw_pid.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct gtest_raw_event {
	gadget_pid pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} gtest_raw_events SEC(".maps");

GADGET_TRACER(gtest_raw, gtest_raw_events, gtest_raw_event);

const volatile __u32 gtest_raw_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int gtest_raw(void *ctx)
{
	struct gtest_raw_event e = { .pid = bpf_get_current_pid_tgid() >> 32 };

	if (e.pid != gtest_raw_pid)
		return 0;
	bpf_ringbuf_output(&gtest_raw_events, &e, sizeof(e), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
