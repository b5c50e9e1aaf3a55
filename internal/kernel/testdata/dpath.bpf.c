// SPDX-License-Identifier: GPL-2.0
/* Sleepable lsm.s/bprm_check_security resolving, with bpf_d_path, the path of the first file
 * a child of target_tgid executes. Used by TestDPath. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;

char path[256] = {};
__s64 path_len = 0;

SEC("lsm.s/bprm_check_security")
int BPF_PROG(resolve_exec_path, struct linux_binprm *bprm, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (ret || task->real_parent->tgid != target_tgid || path_len != 0)
		return ret;
	path_len = bpf_d_path((struct path *)&bprm->file->f_path, path, sizeof(path));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
