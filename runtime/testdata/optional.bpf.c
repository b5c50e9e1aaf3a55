/* SPDX-License-Identifier: Apache-2.0 */
/* The exec tracer plus programs whose attach types this kernel may lack (kprobe, fentry). */
#include "exec.bpf.c"

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(gtest_kprobe)
{
	return 0;
}

SEC("fentry/do_sys_openat2")
int BPF_PROG(gtest_fentry)
{
	return 0;
}
