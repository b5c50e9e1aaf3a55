/* SPDX-License-Identifier: Apache-2.0 */
/*
 * traceloop: a flight recorder of syscalls.
 *
 * sys_enter saves the arguments of a selected syscall in `pending` (keyed by thread id), sys_exit
 * completes that record with the return value and the errno and writes it, whole, to the `events`
 * ring buffer. User space therefore receives one record per syscall, already paired, in the order
 * the syscalls returned. Bounded memory: `events` is a fixed-size ring buffer (a record that does
 * not fit is counted in events_lost_samples) and `pending` holds at most one record per thread in a
 * syscall; keeping only the last N records per container is the job of user space.
 *
 * Selection, cheapest first:
 *   - `syscall_filter` (ARRAY indexed by syscall number, 1 = record), consulted only when
 *     `filter_syscalls` is set. An ARRAY lookup is inlined by the verifier into a bounds check and
 *     a load, so an unselected syscall costs one check on enter and, on exit, reading the number
 *     back from pt_regs plus the same check: no hash lookup for syscalls nobody asked for.
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
#define MAX_PENDING 8192    /* threads that can be inside a recorded syscall at once */

/* struct syscall_decode.flags */
#define DECODE_NORETURN 1      /* exit, exit_group: there is no sys_exit, record on enter */
#define DECODE_SOCKADDR_OUT 2  /* the socket address is filled by the kernel (accept): read on exit */

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
	__type(value, struct syscall_record);
} pending SEC(".maps");

/* Scratch space: a record is too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct syscall_record);
} scratch SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 1024 * 4);
GADGET_TRACER(traceloop, events, syscall_record);

/* Register layouts, as CO-RE flavors so that one source builds for both architectures. */
struct pt_regs___x86 {
	unsigned long di, si, dx, r10, r8, r9, orig_ax;
} __attribute__((preserve_access_index));

struct pt_regs___arm64 {
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

static __always_inline void read_args(struct syscall_record *r, void *regs)
{
#if defined(__TARGET_ARCH_arm64)
	struct pt_regs___arm64 *u = regs;
	r->arg0 = BPF_CORE_READ(u, regs[0]);
	r->arg1 = BPF_CORE_READ(u, regs[1]);
	r->arg2 = BPF_CORE_READ(u, regs[2]);
	r->arg3 = BPF_CORE_READ(u, regs[3]);
	r->arg4 = BPF_CORE_READ(u, regs[4]);
	r->arg5 = BPF_CORE_READ(u, regs[5]);
#else
	struct pt_regs___x86 *x = regs;
	r->arg0 = BPF_CORE_READ(x, di);
	r->arg1 = BPF_CORE_READ(x, si);
	r->arg2 = BPF_CORE_READ(x, dx);
	r->arg3 = BPF_CORE_READ(x, r10);
	r->arg4 = BPF_CORE_READ(x, r8);
	r->arg5 = BPF_CORE_READ(x, r9);
#endif
}

static __always_inline __u32 regs_syscall_nr(void *regs)
{
#if defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ((struct pt_regs___arm64 *)regs, syscallno);
#else
	return BPF_CORE_READ((struct pt_regs___x86 *)regs, orig_ax);
#endif
}

static __always_inline __u64 arg_value(struct syscall_record *r, __u8 idx)
{
	switch (idx) {
	case 1: return r->arg0;
	case 2: return r->arg1;
	case 3: return r->arg2;
	case 4: return r->arg3;
	case 5: return r->arg4;
	case 6: return r->arg5;
	}
	return 0;
}

static __always_inline void read_sockaddr(struct syscall_record *r, __u8 idx)
{
	__u64 p = arg_value(r, idx);
	if (p)
		bpf_probe_read_user(r->sockaddr, sizeof(r->sockaddr), (void *)p);
}

static __always_inline void emit(struct syscall_record *r)
{
	if (bpf_ringbuf_output(&events, r, sizeof(*r), BPF_RB_NO_WAKEUP)) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&events_lost_samples, &zero);
		if (n)
			*n += 1;
	}
}

SEC("raw_tracepoint/sys_enter")
int traceloop_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 nr = ctx->args[1];

	if (!syscall_selected(nr))
		return 0;

	__u32 zero = 0;
	struct syscall_record *r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;

	gadget_process_populate(&r->proc);
	if (gadget_should_discard_data(r->proc.mntns_id, r->proc.pid, r->proc.tid, r->proc.comm,
				       r->proc.creds.uid, r->proc.creds.gid))
		return 0;

	r->timestamp_raw = bpf_ktime_get_boot_ns();
	r->syscall_raw = nr;
	read_args(r, (void *)ctx->args[0]);
	r->ret = 0;
	r->error_raw = 0;
	r->__pad = 0;
	r->duration_raw = 0;
	r->str0[0] = 0;
	r->str1[0] = 0;
	r->sockaddr[0] = 0;
	r->sockaddr[1] = 0;

	struct syscall_decode *d = bpf_map_lookup_elem(&syscall_decode, &nr);
	__u8 flags = 0;
	if (d) {
		flags = d->flags;
		if (d->str0_arg)
			bpf_probe_read_user_str(r->str0, sizeof(r->str0),
						(void *)arg_value(r, d->str0_arg));
		if (d->str1_arg)
			bpf_probe_read_user_str(r->str1, sizeof(r->str1),
						(void *)arg_value(r, d->str1_arg));
		if (d->sockaddr_arg && !(flags & DECODE_SOCKADDR_OUT))
			read_sockaddr(r, d->sockaddr_arg);
	}

	if (flags & DECODE_NORETURN) {
		emit(r);
		return 0;
	}
	bpf_map_update_elem(&pending, &r->proc.tid, r, BPF_ANY);
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int traceloop_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	if (filter_syscalls && !syscall_selected(regs_syscall_nr((void *)ctx->args[0])))
		return 0;

	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_record *r = bpf_map_lookup_elem(&pending, &tid);
	if (!r)
		return 0;

	long ret = ctx->args[1];
	r->ret = ret;
	r->error_raw = (ret < 0 && ret >= -4095) ? -ret : 0;
	r->duration_raw = bpf_ktime_get_boot_ns() - r->timestamp_raw;

	__u32 nr = r->syscall_raw;
	struct syscall_decode *d = bpf_map_lookup_elem(&syscall_decode, &nr);
	if (d && d->sockaddr_arg && (d->flags & DECODE_SOCKADDR_OUT) && ret >= 0)
		read_sockaddr(r, d->sockaddr_arg);

	emit(r);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
