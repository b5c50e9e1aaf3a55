// SPDX-License-Identifier: GPL-2.0
/* A gadget with one program of each kind the host kernel lacks: kprobe, kretprobe, fentry and
 * fexit on do_unlinkat (counting one process's calls, keeping the return values) and an
 * lsm/bprm_check_security program denying, with -EPERM, the exec of marked inodes by children
 * of that process. Run through the runtime by TestVMGadgetAttach. */
#include <gadget.h>

#define EPERM 1

const volatile __u32 target_tgid = 0;

__u64 kprobe_hits = 0;
__u64 kretprobe_hits = 0;
__s64 kretprobe_ret = 1;
__u64 fentry_hits = 0;
__u64 fexit_hits = 0;
__s64 fexit_ret = 1;
__u64 lsm_denied = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u8);
} denied_inodes SEC(".maps");

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(vmt_kprobe)
{
	if (is_target())
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(vmt_kretprobe, int ret)
{
	if (is_target()) {
		kretprobe_ret = ret;
		__sync_fetch_and_add(&kretprobe_hits, 1);
	}
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(vmt_fentry, int dfd, struct filename *name)
{
	if (is_target())
		__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(vmt_fexit, int dfd, struct filename *name, int ret)
{
	if (is_target()) {
		fexit_ret = ret;
		__sync_fetch_and_add(&fexit_hits, 1);
	}
	return 0;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(vmt_lsm, struct linux_binprm *bprm, int ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 ino;

	if (ret)
		return ret;
	if (BPF_CORE_READ(task, real_parent, tgid) != target_tgid)
		return 0;
	ino = BPF_CORE_READ(bprm, file, f_inode, i_ino);
	if (bpf_map_lookup_elem(&denied_inodes, &ino)) {
		__sync_fetch_and_add(&lsm_denied, 1);
		return -EPERM;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
