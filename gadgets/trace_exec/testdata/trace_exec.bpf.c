// SPDX-License-Identifier: Apache-2.0
/*
 * The gadget's own program, for the tests: scripts/vmtest.sh compiles the .bpf.c files of testdata/ with
 * -I gadgets/include (there is no clang inside the VM), so the source is found through that
 * include directory, on the host and in the VM alike.
 */
#include "../trace_exec/program.bpf.c"
