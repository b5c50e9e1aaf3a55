/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An iterator snapshot for the runtime's tests: one record per process (thread group leader),
 * written by a task iterator. -DBAD_SIZE writes one byte short of each record, which the
 * runtime must refuse; -DWITH_TRACER adds an exec tracer, so the run goes on after the snapshot.
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

#ifdef WITH_TRACER
struct gtest_exec {
	gadget_pid pid;
};

GADGET_TRACER_MAP(gtest_snap_events, 4096);
GADGET_TRACER(execs, gtest_snap_events, gtest_exec);

SEC("tracepoint/sched/sched_process_exec")
int gtest_snap_exec(void *ctx)
{
	struct gtest_exec *e = gadget_reserve_buf(gtest_snap_events, sizeof(*e));

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	gadget_submit_buf(e);
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
