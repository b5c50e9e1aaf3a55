// SPDX-License-Identifier: Apache-2.0

//go:build ignore

/*
 * trace_exec: one event per exec, successful or (on request) failed.
 *
 * Successful execs are seen at sched_process_exec only, from the new process itself: argv from
 * mm->arg_start..arg_end, the executed file from bprm->file, the working directory from
 * task->fs->pwd. Paths are rebuilt from the kernel's dentries and mounts, so they are absolute
 * and canonical whatever string the caller passed.
 *
 * Failed execs need the syscall tracepoints, which cost every syscall of every process a little:
 * those programs exist as separate programs that the gadget only attaches when the user asks
 * (ignore_failed=false).
 *
 * Whether the requested file of a script lives in the overlayfs upper layer can only be learnt
 * before the interpreter replaces it, at security_bprm_check (fentry or kprobe, both optional).
 * Without either hook that field is reported as unknown for scripts.
 */
#include <gadget.h>
#include <gadget/argv.h>
#include <gadget/path.h>
#include <gadget/upper_layer.h>

#define ARGS_SIZE GADGET_ARGV_SIZE /* captured argv bytes (and 128 entries for a failed exec) */
#define PATH_SIZE 1024		   /* exepath, cwd */
#define FILE_SIZE 512	   /* the requested path as passed */
#define INTERP_SIZE 256	   /* the interpreter named by a #! line */
#define TTY_SIZE 32

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	__u64 cgroup_id;
	gadget_uid loginuid;
	__u32 sessionid;
	gadget_errno error_raw;
	enum upper_layer_state upper_layer;  /* the executed binary (the interpreter for a script) */
	enum upper_layer_state fupper_layer; /* the requested file (the script itself) */
	enum upper_layer_state pupper_layer; /* the parent's binary */
	bool fileless;			     /* executed from a memfd or a deleted file */
	bool args_truncated;
	bool exepath_truncated;
	bool cwd_truncated;
	__u32 args_count;
	__u32 args_size;
	char tty[TTY_SIZE];
	char exepath[PATH_SIZE];
	char cwd[PATH_SIZE];
	char file[FILE_SIZE];
	char interp[INTERP_SIZE];
	char args[ARGS_SIZE];
};

/* Reports failed execs too; the syscall-tracepoint programs are only needed when false. */
const volatile bool ignore_failed = true;
GADGET_PARAM(ignore_failed);

GADGET_TRACER_MAP(events, 1 << 23);
GADGET_TRACER(exec, events, event);

/* What security_bprm_check learnt about the requested file, keyed by the exec'ing thread id. */
struct bprm_seen {
	__u64 bprm;
	__u32 fupper;
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct bprm_seen);
} bprm_seen SEC(".maps");

/* The arguments of an exec syscall in flight, keyed by thread id (failed-exec reporting). */
struct exec_call {
	__u64 filename;
	__u64 argv;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct exec_call);
} exec_calls SEC(".maps");

static __always_inline enum upper_layer_state parent_upper_state(struct task_struct *task)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	if (!parent)
		return UNKNOWN;
	return gadget_inode_upper_state(BPF_CORE_READ(parent, mm, exe_file, f_inode));
}

/* Fields every event has: the process, its container keys, login session, tty, cwd. */
static __always_inline void fill_common(struct event *e, struct gadget_process *p,
					struct task_struct *task)
{
	struct dentry *root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	struct tty_struct *tty;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->proc = *p;
	e->cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_core_field_exists(task->loginuid))
		e->loginuid = BPF_CORE_READ(task, loginuid.val);
	else
		e->loginuid = (__u32)-1;
	if (bpf_core_field_exists(task->sessionid))
		e->sessionid = BPF_CORE_READ(task, sessionid);
	else
		e->sessionid = (__u32)-1;
	e->pupper_layer = parent_upper_state(task);
	tty = BPF_CORE_READ(task, signal, tty);
	if (tty)
		bpf_probe_read_kernel_str(e->tty, sizeof(e->tty), &tty->name);
	else
		e->tty[0] = 0;
	e->cwd_truncated = gadget_path_of(BPF_CORE_READ(task, fs, pwd.dentry),
					  BPF_CORE_READ(task, fs, pwd.mnt), root_dentry, root_mnt, e->cwd,
					  sizeof(e->cwd), NULL);
}

static __always_inline bool discard(struct gadget_process *p)
{
	return gadget_should_discard_data(p->mntns_id, p->pid, p->tid, p->comm, p->creds.uid,
					  p->creds.gid);
}

/*
 * sched_process_exec fires in the new program, after the point of no return: every successful
 * exec, including from a non-leader thread (which has taken over the leader's pid by then).
 */
SEC("raw_tracepoint/sched_process_exec")
int trace_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 old_tid = (__u32)ctx->args[1];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	struct gadget_process p = {};
	struct event *e;

	gadget_process_populate(&p);
	if (discard(&p))
		goto out;
	e = gadget_reserve_buf(events, sizeof(*e));
	if (!e)
		goto out;

	fill_common(e, &p, task);
	e->error_raw = 0;

	struct file *file = BPF_CORE_READ(bprm, file);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct dentry *root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	e->exepath_truncated = gadget_path_of(BPF_CORE_READ(file, f_path.dentry),
					      BPF_CORE_READ(file, f_path.mnt), root_dentry, root_mnt,
					      e->exepath, sizeof(e->exepath), NULL);
	e->fileless = BPF_CORE_READ(inode, i_nlink) == 0;
	e->upper_layer = gadget_inode_upper_state(inode);

	const char *filename = BPF_CORE_READ(bprm, filename);
	const char *interp = BPF_CORE_READ(bprm, interp);
	bpf_probe_read_kernel_str(e->file, sizeof(e->file), filename);
	if (interp != filename) {
		/* A script (or binfmt_misc): the executed binary is not the requested file. */
		struct bprm_seen *seen = bpf_map_lookup_elem(&bprm_seen, &old_tid);
		bpf_probe_read_kernel_str(e->interp, sizeof(e->interp), interp);
		e->fupper_layer = UNKNOWN;
		if (seen && seen->bprm == (__u64)bprm)
			e->fupper_layer = seen->fupper;
	} else {
		e->interp[0] = 0;
		e->fupper_layer = e->upper_layer;
	}

	e->args_truncated = gadget_read_mm_args(task, e->args, &e->args_size);
	e->args_count = BPF_CORE_READ(bprm, argc);

	gadget_submit_buf(e);
out:
	bpf_map_delete_elem(&bprm_seen, &old_tid);
	if (!ignore_failed)
		bpf_map_delete_elem(&exec_calls, &old_tid);
	return 0;
}

/* Records what the first security_bprm_check of an exec sees: the file the caller named. */
static __always_inline int bprm_check(struct linux_binprm *bprm)
{
	/* A script re-enters the check for its interpreter after bprm->interp was changed. */
	if (BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct bprm_seen seen = {
		.bprm = (__u64)bprm,
		.fupper = gadget_inode_upper_state(BPF_CORE_READ(bprm, file, f_inode)),
	};
	bpf_map_update_elem(&bprm_seen, &tid, &seen, BPF_ANY);
	return 0;
}

/* Optional: trampolines (fentry) are not allowed everywhere. */
SEC("fentry/security_bprm_check")
int BPF_PROG(bprm_check_fentry, struct linux_binprm *bprm)
{
	return bprm_check(bprm);
}

/* Optional: the same where only kprobes exist. */
SEC("kprobe/security_bprm_check")
int BPF_KPROBE(bprm_check_kprobe, struct linux_binprm *bprm)
{
	return bprm_check(bprm);
}

/* Failed execs: remember the syscall's arguments at entry, report at exit if it failed. */
static __always_inline int exec_enter(const char *filename, const char *const *argv)
{
	if (ignore_failed)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_call call = {
		.filename = (__u64)filename,
		.argv = (__u64)argv,
	};
	bpf_map_update_elem(&exec_calls, &tid, &call, BPF_ANY);
	return 0;
}

static __always_inline int exec_exit(long ret)
{
	if (ignore_failed)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_call *callp = bpf_map_lookup_elem(&exec_calls, &tid);
	if (!callp)
		return 0;
	struct exec_call call = *callp;
	bpf_map_delete_elem(&exec_calls, &tid);
	if (ret >= 0)
		return 0;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gadget_process p = {};
	gadget_process_populate(&p);
	if (discard(&p))
		return 0;
	struct event *e = gadget_reserve_buf(events, sizeof(*e));
	if (!e)
		return 0;

	fill_common(e, &p, task);
	e->error_raw = -ret;
	e->upper_layer = UNKNOWN;
	e->fupper_layer = UNKNOWN;
	e->fileless = false;
	e->exepath_truncated = false;
	e->exepath[0] = 0;
	e->interp[0] = 0;
	bpf_probe_read_user_str(e->file, sizeof(e->file), (void *)call.filename);

	e->args_truncated = gadget_read_user_argv((const char *const *)call.argv, e->args,
						  &e->args_size, &e->args_count);

	gadget_submit_buf(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int execveat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int execveat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
