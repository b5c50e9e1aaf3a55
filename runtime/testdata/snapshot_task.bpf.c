/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An iterator snapshot for the runtime's tests: one record per process (thread group leader),
 * written by a task iterator. -DBAD_SIZE writes one byte short of each record, which the
 * runtime must refuse.
 */
#include <gadget.h>

struct gtest_task {
	gadget_pid pid;
	gadget_pid ppid;
	gadget_comm comm[TASK_COMM_LEN];
	gadget_mntns_id mntns_id;
	__u32 threads;
};

GADGET_ITER(tasks, gtest_task, gtest_iter_task);

SEC("iter/task")
int gtest_iter_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct gtest_task r = {};

	if (!task || task->pid != task->tgid)
		return 0;
	r.pid = task->tgid;
	r.ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_probe_read_kernel_str(r.comm, sizeof(r.comm), task->comm);
	r.mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	r.threads = BPF_CORE_READ(task, signal, nr_threads);
#ifdef BAD_SIZE
	bpf_seq_write(seq, &r, sizeof(r) - 1);
#else
	bpf_seq_write(seq, &r, sizeof(r));
#endif
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
