/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Copying an argv array from user memory: the NULL-terminated array of string pointers an exec
 * syscall takes, read while the caller's memory is still there (at the syscall's entry or exit,
 * or at security_bprm_check, before the new program replaces the old one).
 *
 * gadget_read_user_argv() writes the arguments as consecutive NUL-terminated strings (empty ones
 * kept), at most GADGET_ARGV_SIZE bytes and GADGET_ARGV_MAX_COUNT entries, one entry per
 * bpf_loop iteration. Including this header declares the per-CPU array `gadget_argv_scratch`
 * (2 * GADGET_ARGV_SIZE bytes per CPU). Needs bpf_loop (Linux 5.17).
 *
 * Once the new program runs (sched_process_exec), gadget_read_mm_args() copies its arguments
 * from where exec laid them out instead.
 */
#ifndef GADGETRY_ARGV_H
#define GADGETRY_ARGV_H

#define GADGET_ARGV_SIZE 2048	   /* bytes of arguments kept (power of two) */
#define GADGET_ARGV_MAX_COUNT 128 /* entries read */

struct gadget_argv_scratch {
	char args[2 * GADGET_ARGV_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_argv_scratch);
} gadget_argv_scratch SEC(".maps");

static __always_inline struct gadget_argv_scratch *__gadget_argv_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&gadget_argv_scratch, &zero);
}

/* The state of one argv copy, advanced one entry per bpf_loop iteration. */
struct gadget_argv_copy {
	const char *const *argv;
	__u32 off;
	__u32 count;
	bool cut;
};

static long __gadget_argv_step(__u32 i, void *ctx)
{
	struct gadget_argv_copy *c = ctx;
	struct gadget_argv_scratch *s = __gadget_argv_scratch();
	const char *arg = NULL;

	if (!s)
		return 1;
	if (bpf_probe_read_user(&arg, sizeof(arg), &c->argv[i]) || !arg)
		return 1;
	if (i == GADGET_ARGV_MAX_COUNT) {
		/* One entry past those read: only tells whether argv went on. */
		c->cut = true;
		return 1;
	}
	c->count++;
	__u32 off = c->off;
	if (off >= GADGET_ARGV_SIZE) {
		c->cut = true;
		return 0; /* keep counting */
	}
	long n = bpf_probe_read_user_str(&s->args[off & (GADGET_ARGV_SIZE - 1)], GADGET_ARGV_SIZE,
					 arg);
	if (n < 0)
		return 1;
	if (n == 0) {
		/* For an empty string some kernels (6.1, 6.12) return 0, not 1 for its NUL. */
		s->args[off & (GADGET_ARGV_SIZE - 1)] = 0;
		n = 1;
	}
	c->off = off + n;
	return 0;
}

/*
 * gadget_read_user_argv copies the user-space argv array into dst (GADGET_ARGV_SIZE bytes):
 * *size is the number of bytes holding NUL-terminated arguments (the last NUL is missing when the
 * bytes ran out), *count the number of entries read. Returns true when argv was cut: more than
 * GADGET_ARGV_MAX_COUNT entries, or more than GADGET_ARGV_SIZE bytes.
 */
static __always_inline bool gadget_read_user_argv(const char *const *argv, char *dst, __u32 *size,
						  __u32 *count)
{
	struct gadget_argv_scratch *s = __gadget_argv_scratch();
	struct gadget_argv_copy ac = {.argv = argv};

	*size = 0;
	*count = 0;
	if (!s)
		return true;
	bpf_loop(GADGET_ARGV_MAX_COUNT + 1, __gadget_argv_step, &ac, 0);
	bool cut = ac.cut;
	__u32 off = ac.off;
	if (off > GADGET_ARGV_SIZE) {
		off = GADGET_ARGV_SIZE;
		cut = true;
	}
	bpf_probe_read_kernel(dst, GADGET_ARGV_SIZE, s->args);
	*size = off;
	*count = ac.count;
	return cut;
}

/*
 * gadget_read_mm_args copies the arguments of task's program as exec laid them out, from
 * mm->arg_start to mm->arg_end (from sched_process_exec on: the new program's memory is the
 * current one), into dst (GADGET_ARGV_SIZE bytes): *size bytes of NUL-terminated strings.
 * Returns true when they were longer than GADGET_ARGV_SIZE.
 */
static __always_inline bool gadget_read_mm_args(struct task_struct *task, char *dst, __u32 *size)
{
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	__u64 n = arg_end - arg_start;
	bool cut = false;

	if (n > GADGET_ARGV_SIZE) {
		n = GADGET_ARGV_SIZE;
		cut = true;
	}
	if (bpf_probe_read_user(dst, n, (void *)arg_start))
		n = 0;
	*size = n;
	return cut;
}

#endif /* GADGETRY_ARGV_H */
