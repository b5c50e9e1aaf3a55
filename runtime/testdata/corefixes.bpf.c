/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <gadget/core_fixes.bpf.h>'s readers run in this kernel, for TestCoreFixes:
 *   - gtest_cf_ctime, an iter/task_file program: the change time (nanoseconds) of the inode
 *     of descriptor gtest_fd of process gtest_tgid, into gtest_cf_out[0];
 *   - gtest_cf_sys, a raw tracepoint on sys_enter: for calls of system call gtest_nr whose
 *     first argument is GTEST_CF_MAGIC, the number and the six arguments (counted from 1, as
 *     IG counts them) read from the user registers, into [1] and [2] to [7].
 * Written the way Inspektor Gadget's gadgets include headers: no <gadget.h>.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/core_fixes.bpf.h>

#define GTEST_CF_MAGIC 0x7cf00d

const volatile __u32 gtest_tgid = 0;
const volatile __u32 gtest_fd = 0;
const volatile __u64 gtest_nr = 0; /* getsid's number here */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} gtest_cf_out SEC(".maps");

static __always_inline void put(__u32 k, __u64 v)
{
	bpf_map_update_elem(&gtest_cf_out, &k, &v, BPF_ANY);
}

SEC("iter/task_file")
int gtest_cf_ctime(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!task || !file || task->tgid != gtest_tgid || ctx->fd != gtest_fd)
		return 0;
	put(0, gadget_get_ctime_nanosec_from_inode(BPF_CORE_READ(file, f_inode)));
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int gtest_cf_sys(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];

	if (ctx->args[1] != gtest_nr || gadget_get_syscall_arg(regs, 1) != GTEST_CF_MAGIC)
		return 0;
	put(1, gadget_get_syscall_nr(regs));
	put(2, gadget_get_syscall_arg(regs, 1));
	put(3, gadget_get_syscall_arg(regs, 2));
	put(4, gadget_get_syscall_arg(regs, 3));
	put(5, gadget_get_syscall_arg(regs, 4));
	put(6, gadget_get_syscall_arg(regs, 5));
	put(7, gadget_get_syscall_arg(regs, 6));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
