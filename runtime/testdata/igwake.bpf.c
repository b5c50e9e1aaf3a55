/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tracer written the way Inspektor Gadget's gadgets are (headers one by one, IG's buffer
 * calls), for the test that a reader waiting on the ring buffer, as ig's does, is woken by
 * what <gadget/buffer.h> submits: gadget_reserve_buf + gadget_submit_buf on getppid, and
 * gadget_output_buf on getpgid, both only for the process gtest_wake_pid.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct gtest_wake_event {
	gadget_pid pid;
	__u32 how; /* 1: reserve and submit, 2: output */
};

GADGET_TRACER_MAP(gtest_wake_events, 4096);
GADGET_TRACER(gtest_wake, gtest_wake_events, gtest_wake_event);

const volatile __u32 gtest_wake_pid = 0;

static __always_inline int mine(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == gtest_wake_pid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int gtest_wake_submit(void *ctx)
{
	if (!mine())
		return 0;
	struct gtest_wake_event *e = gadget_reserve_buf(&gtest_wake_events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = gtest_wake_pid;
	e->how = 1;
	gadget_submit_buf(ctx, &gtest_wake_events, e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int gtest_wake_output(void *ctx)
{
	if (!mine())
		return 0;
	struct gtest_wake_event e = {.pid = gtest_wake_pid, .how = 2};
	gadget_output_buf(ctx, &gtest_wake_events, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
