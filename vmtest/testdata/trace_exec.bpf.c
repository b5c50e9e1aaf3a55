// SPDX-License-Identifier: GPL-2.0
/* The built-in trace_exec gadget's program, for TestVMTraceExecUpperLayer. Found through the
 * include directory (-I gadgets/include) so that it compiles the same on the host and in
 * scripts/vmtest.sh, where the package is copied away from the source tree. */
#include "../trace_exec/program.bpf.c"
