/* SPDX-License-Identifier: Apache-2.0 */
/*
 * traceloop: a flight recorder of syscalls.
 *
 * sys_enter saves the number, arguments and entry time of a selected syscall in `pending` (64
 * bytes, keyed by thread id); sys_exit reserves the record in the `events` ring buffer and fills it
 * there (process, arguments, strings and socket address read from user memory, return value,
 * errno, duration). User space therefore receives one record per syscall, already paired, in the
 * order the syscalls returned (sort by timestamp for the order they were entered). Strings are
 * read on exit, when the kernel is done with them, except for syscalls flagged
 * DECODE_STR_AT_ENTER (execve: after a successful exec the old memory is gone).
 *
 * Bounded memory: `events` is a fixed-size ring buffer (a record that does not fit is counted in
 * events_lost_samples); `pending` holds one small entry per thread inside a recorded syscall.
 * Keeping only the last N records per container (the flight recorder) is the job of user space.
 *
 * Selection, cheapest first:
 *   - `syscall_filter` (ARRAY indexed by syscall number, 1 = record), consulted only when
 *     `filter_syscalls` is set. An ARRAY lookup is inlined by the verifier into a bounds check and
 *     a load, so an unselected syscall costs one check on enter and, on exit, reading the number
 *     back from pt_regs (orig_ax) plus the same check: no hash lookup for syscalls nobody asked
 *     for.
 *   - the common container / pid / uid filters of gadget/filter.h.
 *
 * Decoding: `syscall_decode` (ARRAY indexed by syscall number) says which arguments are strings
 * in user memory or socket addresses. It is filled by the gadget's WASM module from syscall names
 * (numbers come from the host, for this kernel's architecture); a syscall without an entry is
 * recorded with its raw arguments only.
 */
#include <gadget.h>

#define MAX_SYSCALLS 1024   /* above every syscall number of x86-64 and arm64 */
#define STR_LEN 256         /* bytes kept of each string argument */
#define SOCKADDR_LEN 112    /* covers sockaddr_in, sockaddr_in6 and sockaddr_un */
#define MAX_PENDING 16384   /* threads that can be inside a recorded syscall at once */
#define MAX_PENDING_STR 1024

/* struct syscall_decode.flags */
#define DECODE_NORETURN 1     /* exit, exit_group: there is no sys_exit, record on enter */
#define DECODE_STR_AT_ENTER 2 /* read str0 on enter (execve: the old memory is gone on exit) */

/* How to decode the arguments of one syscall. Indexes are argument index + 1, 0 = none. */
struct syscall_decode {
	__u8 str0_arg;
	__u8 str1_arg;
	__u8 sockaddr_arg;
	__u8 flags;
};

/* One recorded syscall. Field names ending in _raw get a formatted sibling from the runtime. */
struct syscall_record {
	gadget_timestamp timestamp_raw; /* when the syscall was entered */
	struct gadget_process proc;
	gadget_syscall syscall_raw;
	__u64 arg0;
	__u64 arg1;
	__u64 arg2;
	__u64 arg3;
	__u64 arg4;
	__u64 arg5;
	__s64 ret;
	gadget_errno error_raw;         /* -ret when the syscall failed, else 0 */
	__u32 __pad;
	gadget_duration duration_raw;   /* time spent in the syscall */
	char str0[STR_LEN];             /* first string argument (e.g. the path of openat) */
	char str1[STR_LEN];             /* second string argument (e.g. the new name of renameat) */
	__u8 sockaddr[SOCKADDR_LEN];    /* socket address of connect, bind, accept... (raw) */
};

/* What sys_enter keeps for sys_exit. */
struct pending_call {
	__u64 timestamp;
	__u64 args[6];
	__u32 nr;
	__u32 flags;
};

struct pending_str {
	char s[STR_LEN];
};

const volatile bool filter_syscalls = false;
GADGET_PARAM(filter_syscalls);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u8);
} syscall_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct syscall_decode);
} syscall_decode SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, __u32);
	__type(value, struct pending_call);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PENDING_STR);
	__type(key, __u32);
	__type(value, struct pending_str);
} pending_str SEC(".maps");

/* Scratch space for pending_str: too big for the BPF stack next to the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending_str);
} str_scratch SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 1024 * 4);
GADGET_TRACER(traceloop, events, syscall_record);

/* arm64 register layout, as a CO-RE flavor: the arm64 object is built against the x86-64 vmlinux.h. */
struct pt_regs___tl_arm64 {
	__u64 regs[31];
	__s32 syscallno;
} __attribute__((preserve_access_index));

static __always_inline bool syscall_selected(__u32 nr)
{
	if (!filter_syscalls)
		return true;
	__u8 *on = bpf_map_lookup_elem(&syscall_filter, &nr);
	return on && *on;
}

static __always_inline void read_args(__u64 *args, void *regs)
{
#if defined(__TARGET_ARCH_arm64)
	struct pt_regs___tl_arm64 *u = regs;
	for (int i = 0; i < 6; i++)
		args[i] = BPF_CORE_READ(u, regs[i]);
#else
	/* One copy of the registers instead of six reads. */
	struct pt_regs r;
	bpf_probe_read_kernel(&r, sizeof(r), regs);
	args[0] = r.di;
	args[1] = r.si;
	args[2] = r.dx;
	args[3] = r.r10;
	args[4] = r.r8;
	args[5] = r.r9;
#endif
}

#ifdef TRACELOOP_RAW_EXIT
static __always_inline __u32 regs_syscall_nr(void *regs)
{
#if defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ((struct pt_regs___tl_arm64 *)regs, syscallno);
#else
	return BPF_CORE_READ((struct pt_regs *)regs, orig_ax);
#endif
}
#endif

static __always_inline bool any_process_filter(void)
{
	return gadget_filter_by_mntns || targ_pid || targ_tid || targ_uid != (__u32)-1 ||
	       targ_gid != (__u32)-1 || targ_comm[0];
}

#ifndef TRACELOOP_RAW_EXIT
/* Direct (BTF) reads of the current task: no helper call per field. */
#define current_task() bpf_get_current_task_btf()
#define task_read(task, ...) ((task)->__VA_ARGS__)
#else
#define current_task() ((struct task_struct *)bpf_get_current_task())
#define task_read(task, ...) BPF_CORE_READ(task, __VA_ARGS__)
#endif

static __always_inline gadget_mntns_id current_mntns(struct task_struct *task)
{
#ifndef TRACELOOP_RAW_EXIT
	return task->nsproxy->mnt_ns->ns.inum;
#else
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
#endif
}

/* Process fields of the current task. */
static __always_inline void fill_process(struct gadget_process *p)
{
	struct task_struct *task = current_task();
	struct task_struct *parent = task_read(task, real_parent);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	p->pid = pid_tgid >> 32;
	p->tid = (__u32)pid_tgid;
	p->creds.uid = (__u32)uid_gid;
	p->creds.gid = uid_gid >> 32;
	p->mntns_id = current_mntns(task);
	bpf_get_current_comm(p->comm, sizeof(p->comm));
	p->parent.pid = task_read(parent, tgid);
	p->parent.tid = task_read(parent, pid);
	bpf_probe_read_kernel_str(p->parent.comm, sizeof(p->parent.comm), parent->comm);
}

static __always_inline void *user_arg(struct pending_call *c, __u8 idx)
{
	if (idx < 1 || idx > 6)
		return 0;
	return (void *)c->args[(idx - 1) & 7];
}

/* Fills and submits a record; ret_known is false for syscalls that never return. */
static __always_inline void emit(struct pending_call *c, long ret, bool ret_known, __u64 now)
{
	struct syscall_record *r = gadget_reserve_buf(events, sizeof(*r));
	if (!r)
		return;

	r->timestamp_raw = c->timestamp;
	fill_process(&r->proc);
	r->syscall_raw = c->nr;
	r->arg0 = c->args[0];
	r->arg1 = c->args[1];
	r->arg2 = c->args[2];
	r->arg3 = c->args[3];
	r->arg4 = c->args[4];
	r->arg5 = c->args[5];
	r->ret = ret_known ? ret : 0;
	r->error_raw = (ret_known && ret < 0 && ret >= -4095) ? -ret : 0;
	r->__pad = 0;
	r->duration_raw = ret_known ? now - c->timestamp : 0;
	r->str0[0] = 0;
	r->str1[0] = 0;
	r->sockaddr[0] = 0;
	r->sockaddr[1] = 0;

	__u32 nr = c->nr;
	struct syscall_decode *d = bpf_map_lookup_elem(&syscall_decode, &nr);
	if (d) {
		if (d->str0_arg && (d->flags & DECODE_STR_AT_ENTER)) {
			__u32 tid = r->proc.tid;
			struct pending_str *ps = bpf_map_lookup_elem(&pending_str, &tid);
			if (ps) {
				bpf_probe_read_kernel_str(r->str0, sizeof(r->str0), ps->s);
				bpf_map_delete_elem(&pending_str, &tid);
			}
		} else if (d->str0_arg) {
			bpf_probe_read_user_str(r->str0, sizeof(r->str0), user_arg(c, d->str0_arg));
		}
		if (d->str1_arg)
			bpf_probe_read_user_str(r->str1, sizeof(r->str1), user_arg(c, d->str1_arg));
		if (d->sockaddr_arg) {
			void *sa = user_arg(c, d->sockaddr_arg);
			if (sa)
				bpf_probe_read_user(r->sockaddr, sizeof(r->sockaddr), sa);
		}
	}
	gadget_submit_buf(r);
}

static __always_inline int on_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_call *c = bpf_map_lookup_elem(&pending, &tid);
	if (!c)
		return 0;
	emit(c, ret, true, bpf_ktime_get_boot_ns());
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int traceloop_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 nr = ctx->args[1];

	if (!syscall_selected(nr))
		return 0;

	if (any_process_filter()) {
		struct task_struct *task = current_task();
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		__u64 uid_gid = bpf_get_current_uid_gid();
		char comm[TASK_COMM_LEN];
		bpf_get_current_comm(comm, sizeof(comm));
		if (gadget_should_discard_data(current_mntns(task), pid_tgid >> 32,
					       (__u32)pid_tgid, comm, (__u32)uid_gid, uid_gid >> 32))
			return 0;
	}

	struct pending_call c = {};
	c.timestamp = bpf_ktime_get_boot_ns();
	c.nr = nr;
	read_args(c.args, (void *)ctx->args[0]);

	struct syscall_decode *d = bpf_map_lookup_elem(&syscall_decode, &nr);
	__u8 flags = d ? d->flags : 0;
	if (flags & DECODE_NORETURN) {
		emit(&c, 0, false, 0);
		return 0;
	}

	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (d && d->str0_arg && (flags & DECODE_STR_AT_ENTER)) {
		__u32 zero = 0;
		struct pending_str *ps = bpf_map_lookup_elem(&str_scratch, &zero);
		if (ps) {
			bpf_probe_read_user_str(ps->s, sizeof(ps->s), user_arg(&c, d->str0_arg));
			bpf_map_update_elem(&pending_str, &tid, ps, BPF_ANY);
		}
	}
	bpf_map_update_elem(&pending, &tid, &c, BPF_ANY);
	return 0;
}

#ifndef TRACELOOP_RAW_EXIT
/*
 * tp_btf is the same hook as raw_tracepoint/sys_exit with typed arguments: regs->orig_ax is a
 * direct load, where a plain raw tracepoint needs a bpf_probe_read_kernel call on every syscall
 * (measured here: +35 ns per syscall, the difference between matching the empty-program floor
 * and not). Build with -DTRACELOOP_RAW_EXIT for kernels without BTF-enabled tracepoints.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(traceloop_sys_exit, struct pt_regs *regs, long ret)
{
#if defined(__TARGET_ARCH_arm64)
	__u32 nr = ((struct pt_regs___tl_arm64 *)regs)->syscallno;
#else
	__u32 nr = regs->orig_ax;
#endif
	if (filter_syscalls && !syscall_selected(nr))
		return 0;
	return on_exit(ret);
}
#else
SEC("raw_tracepoint/sys_exit")
int traceloop_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	if (filter_syscalls && !syscall_selected(regs_syscall_nr((void *)ctx->args[0])))
		return 0;
	return on_exit(ctx->args[1]);
}
#endif

char LICENSE[] SEC("license") = "GPL";
