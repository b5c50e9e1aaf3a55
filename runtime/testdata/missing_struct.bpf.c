/* SPDX-License-Identifier: Apache-2.0 */
/* A tracer marker naming a struct the object's BTF does not have. */
#include <gadget.h>

GADGET_TRACER_MAP(gtest_rb, 4096);
const void *gadget_tracer_ghost___gtest_rb___nostruct __attribute__((unused));

SEC("tracepoint/sched/sched_process_exec")
int gtest_noop(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
