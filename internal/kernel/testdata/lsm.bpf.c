// SPDX-License-Identifier: GPL-2.0
/* lsm/bprm_check_security denying, with -EPERM, the exec of files whose inode number is in
 * denied_inodes, when the exec'ing process is a child of target_tgid (so that nothing else on
 * the machine is affected). Used by TestLSMDeniesExec. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EPERM 1

const volatile __u32 target_tgid = 0;

__u64 denied = 0;
__u64 checked = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u8);
} denied_inodes SEC(".maps");

SEC("lsm/bprm_check_security")
int BPF_PROG(deny_marked, struct linux_binprm *bprm, int ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 ino;

	if (ret)
		return ret;
	if (BPF_CORE_READ(task, real_parent, tgid) != target_tgid)
		return 0;
	__sync_fetch_and_add(&checked, 1);
	ino = BPF_CORE_READ(bprm, file, f_inode, i_ino);
	if (bpf_map_lookup_elem(&denied_inodes, &ino)) {
		__sync_fetch_and_add(&denied, 1);
		return -EPERM;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
