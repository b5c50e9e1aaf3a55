/* SPDX-License-Identifier: Apache-2.0 */
/* The exec tracer plus a program that gadget.yaml attaches only for one value of a param. */
#include "exec.bpf.c"

const volatile bool with_extra = false;
GADGET_PARAM(with_extra);

SEC("tracepoint/syscalls/sys_enter_getppid")
int gtest_extra(void *ctx)
{
	return 0;
}
