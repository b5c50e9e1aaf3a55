/* SPDX-License-Identifier: Apache-2.0 */
/* A kprobe on a kernel function that does not exist, for the attach error's wording. */
#include <gadget.h>

SEC("kprobe/gadgetry_no_such_function")
int gtest_nofunc(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
