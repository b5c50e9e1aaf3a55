/* SPDX-License-Identifier: Apache-2.0 */
/* A tracer marker naming a map the object does not define. */
#include <gadget.h>

struct ghost_event {
	__u32 pid;
};

const void *gadget_tracer_ghost___nomap___ghost_event __attribute__((unused));
const struct ghost_event *__ghost_keep __attribute__((unused));

SEC("tracepoint/sched/sched_process_exec")
int gtest_noop(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
