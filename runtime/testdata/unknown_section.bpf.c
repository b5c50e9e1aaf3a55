/* SPDX-License-Identifier: Apache-2.0 */
/* A program in a section no attach type matches. */
#include "exec.bpf.c"

SEC("nosuchattach/foo")
int gtest_odd(void *ctx)
{
	return 0;
}
