// SPDX-License-Identifier: GPL-2.0
/* The smallest object TestBPFObject can compile with the gadget include path. */
#include <gadget.h>

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
