/* SPDX-License-Identifier: Apache-2.0 */
/* Filling struct gadget_process from the current task, portably (CO-RE). */
#ifndef GADGETRY_COMMON_H
#define GADGETRY_COMMON_H

#include <gadget/types.h>

static __always_inline gadget_mntns_id gadget_task_mntns_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

static __always_inline gadget_mntns_id gadget_get_current_mntns_id(void)
{
	return gadget_task_mntns_id((struct task_struct *)bpf_get_current_task());
}

static __always_inline void gadget_process_populate(struct gadget_process *p)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	p->pid = pid_tgid >> 32;
	p->tid = (__u32)pid_tgid;
	p->creds.uid = (__u32)uid_gid;
	p->creds.gid = uid_gid >> 32;
	p->mntns_id = gadget_task_mntns_id(task);
	bpf_get_current_comm(p->comm, sizeof(p->comm));
	if (parent) {
		p->parent.pid = BPF_CORE_READ(parent, tgid);
		p->parent.tid = BPF_CORE_READ(parent, pid);
		bpf_probe_read_kernel_str(p->parent.comm, sizeof(p->parent.comm), parent->comm);
	}
}

#endif /* GADGETRY_COMMON_H */
