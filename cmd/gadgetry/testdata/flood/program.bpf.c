/* SPDX-License-Identifier: Apache-2.0 */
/* A flood for the stop tests: one record per getppid call of process tgid, into a small ring
 * buffer that a slow consumer overflows at once. */
#include <gadget.h>

struct event {
	__u32 pid;
	__u32 pad;
	__u64 n;
};

GADGET_TRACER_MAP(gtest_flood, 64 * 1024);
GADGET_TRACER(flood, gtest_flood, event);

const volatile __u32 tgid = 0;
GADGET_PARAM(tgid);

__u64 count = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int gtest_flood_getppid(void *ctx)
{
	struct event *e;

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != tgid)
		return 0;
	e = gadget_reserve_buf(gtest_flood, sizeof(*e));
	if (!e)
		return 0;
	e->pid = tgid;
	e->pad = 0;
	e->n = __sync_fetch_and_add(&count, 1);
	gadget_submit_buf(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
