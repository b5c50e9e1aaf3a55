// SPDX-License-Identifier: Apache-2.0
/* block_exec with one more program, zz_attach_fails, whose raw tracepoint does not exist: the
 * attach failure exit path of the tests (exit_test.go). Programs attach in name order, so it
 * fails after block_exec_kill or block_exec_lsm attached. */
#include "../program.bpf.c"

SEC("raw_tracepoint/gadgetry_no_such_tracepoint")
int zz_attach_fails(void *ctx)
{
	return 0;
}
