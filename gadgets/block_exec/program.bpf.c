// SPDX-License-Identifier: Apache-2.0

//go:build ignore

/*
 * block_exec: stops execs a policy forbids, in the selected containers (or, with --host,
 * everywhere), and reports every decision.
 *
 * Two programs enforce the same policy; the runtime loads one (gadget.yaml: alternatives of the
 * parameter mechanism):
 *
 *   block_exec_lsm   lsm/bprm_check_security: the exec fails with EPERM before the new program
 *                    is loaded, and the old program goes on. The hook runs for the requested
 *                    file and again for each interpreter of a script, so a script is checked as
 *                    itself and as its interpreter.
 *   block_exec_kill  raw_tracepoint/sched_process_exec: after the point of no return, the new
 *                    process gets SIGKILL from bpf_send_signal; it dies on its way back to user
 *                    space, before running an instruction of its own. Here the script itself is
 *                    gone (replaced by its interpreter): it is known only by the name it was
 *                    run as.
 *
 * The policy is in maps the WASM module fills in gadgetStart, before anything is attached;
 * `bexec_policy.enabled` is written last. Paths are compared with the canonical path of the file
 * (gadget/path.h, as trace_exec's exepath), and, for a denial, also with the path as requested
 * and with the interpreter a #! line names.
 */
#include <gadget.h>
#include <gadget/argv.h>
#include <gadget/path.h>
#include <gadget/upper_layer.h>

#define PATH_SIZE 1024	   /* exepath */
#define FILE_SIZE 512	   /* the requested path */
#define INTERP_SIZE 256	   /* the interpreter a #! line names */
#define ARGS_SIZE GADGET_ARGV_SIZE
#define KEY_SIZE 256	   /* a rule's path or a glob's directory: up to 255 bytes */
#define GLOB_SIZE 128	   /* a glob's last component: up to 127 bytes */
#define GLOBS_PER_DIR 16
#define GLOB_STEPS (KEY_SIZE * GLOB_SIZE)

#define SIGKILL 9
#define EPERM 1

/* Why an exec is stopped. */
enum reason {
	REASON_UPPER_LAYER = 1, /* --deny-upper-layer: the file is in the overlayfs upper layer */
	REASON_DENIED = 2,	/* --deny-paths: a rule matched (rule says which) */
	REASON_NOT_ALLOWED = 3, /* --allow-paths: no rule matched */
};

/* Which name of the exec the rule was checked against. */
enum which {
	WHICH_EXEPATH = 1, /* the canonical path of the checked file */
	WHICH_FILE = 2,	   /* the path as requested */
	WHICH_INTERP = 3,  /* the interpreter a #! line names */
};

enum action {
	ACTION_DENIED = 1,	/* lsm: the exec failed with EPERM */
	ACTION_KILLED = 2,	/* kill: SIGKILL sent */
	ACTION_AUDITED = 3,	/* --mode=audit: nothing stopped */
	ACTION_KILL_FAILED = 4, /* kill: bpf_send_signal failed (error says why) */
};

enum mechanism {
	MECHANISM_LSM = 1,
	MECHANISM_KILL = 2,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	enum upper_layer_state upper_layer; /* of the checked file (exepath) */
	gadget_errno error_raw;		    /* why bpf_send_signal failed (kill_failed) */
	__u32 __rule;			    /* the --deny-paths / --allow-paths rule that matched */
	__u8 __reason;
	__u8 __which;
	__u8 __action;
	__u8 __mechanism;
	bool exepath_truncated;
	bool args_truncated;
	__u32 args_count;
	__u32 args_size;
	char exepath[PATH_SIZE];
	char file[FILE_SIZE];
	char interp[INTERP_SIZE];
	char args[ARGS_SIZE];
};

GADGET_TRACER_MAP(bexec_events, 1 << 20);
GADGET_TRACER(block_exec, bexec_events, event);

/* --host: enforce on every process when no container is selected. */
const volatile bool host = false;
GADGET_PARAM(host);

/* The policy as a whole, written last by the WASM module's gadgetStart. */
struct policy {
	__u8 enabled;
	__u8 allow;	 /* --allow-paths: only listed paths run */
	__u8 deny_upper; /* --deny-upper-layer */
	__u8 audit;	 /* --mode=audit */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct policy);
} bexec_policy SEC(".maps");

/* A path, zero-padded: the key of bexec_paths and bexec_globs. */
struct path_key {
	char path[KEY_SIZE];
};

/* Rules without a glob: the path → the rule's id (its position in the list, from 1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct path_key);
	__type(value, __u32);
} bexec_paths SEC(".maps");

/* Rules with a * in their last component, by directory. */
struct glob {
	__u32 rule;
	__u32 len;
	char pattern[GLOB_SIZE];
};

struct glob_set {
	__u32 count;
	__u32 __pad;
	struct glob globs[GLOBS_PER_DIR];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct path_key);
	__type(value, struct glob_set);
} bexec_globs SEC(".maps");

/*
 * The state of matching a glob, kept in the scratch map rather than on the stack: the verifier
 * sees map values as unknown numbers, so the loop's steps need no exploring one by one.
 */
struct glob_walk {
	__u32 base, tlen, plen;
	__u32 pi, ti;
	__s32 star, mark;
	__u32 matched;
};

/* Per-CPU scratch: the names of the exec being checked and the matcher's buffers. */
struct scratch {
	struct glob_walk walk;
	char exepath[PATH_SIZE];
	char file[FILE_SIZE];
	char interp[INTERP_SIZE];
	char name[KEY_SIZE];	/* the name being matched */
	struct path_key key;	/* its zero-padded path or directory */
	char pattern[GLOB_SIZE]; /* the glob being matched */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} bexec_scratch SEC(".maps");

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&bexec_scratch, &zero);
}

/* --- matching ------------------------------------------------------------------------------ */

/* The state of matching scratch->name: its length, its last '/', the rule found. */
struct match_state {
	__u32 len;
	__u32 at;
	__u32 rule;
};

/* Finds the last '/' of scratch->name[0..len): one byte per step, from the end. */
static long last_slash_step(__u32 i, void *ctx)
{
	struct match_state *m = ctx;
	struct scratch *s = get_scratch();

	if (!s || i >= m->len)
		return 1;
	__u32 at = m->len - 1 - i;
	if (s->name[at & (KEY_SIZE - 1)] == '/') {
		m->at = at;
		return 1;
	}
	return 0;
}

/*
 * Matches scratch->name[base..base+tlen) against scratch->pattern[0..plen), where '*' stands for
 * any run of bytes: the usual two-pointer walk that backs up to the last '*', one step per
 * iteration.
 */
static long glob_step(__u32 i, void *ctx)
{
	struct scratch *s = get_scratch();

	if (!s)
		return 1;
	struct glob_walk *g = &s->walk;
	__u32 pi = g->pi, ti = g->ti;
	char pc = pi < g->plen ? s->pattern[pi & (GLOB_SIZE - 1)] : 0;
	if (ti >= g->tlen) {
		/* The name is used up: only stars may be left in the pattern. */
		if (pi < g->plen && pc == '*') {
			g->pi = pi + 1;
			return 0;
		}
		g->matched = pi == g->plen;
		return 1;
	}
	char tc = s->name[(g->base + ti) & (KEY_SIZE - 1)];
	if (pi < g->plen && pc == '*') {
		g->star = pi;
		g->mark = ti;
		g->pi = pi + 1;
	} else if (pi < g->plen && pc == tc) {
		g->pi = pi + 1;
		g->ti = ti + 1;
	} else if (g->star >= 0) {
		g->pi = g->star + 1;
		g->mark++;
		g->ti = g->mark;
	} else {
		return 1; /* no match */
	}
	return 0;
}

/* Tries glob i of the directory in scratch->key on the last component of scratch->name. */
static long glob_try(__u32 i, void *ctx)
{
	struct match_state *m = ctx;
	struct scratch *s = get_scratch();

	if (!s)
		return 1;
	struct glob_set *set = bpf_map_lookup_elem(&bexec_globs, &s->key);
	if (!set || i >= set->count)
		return 1;
	/* bpf_loop runs i below GLOBS_PER_DIR, a power of two: the mask tells the verifier. */
	struct glob *gl = &set->globs[i & (GLOBS_PER_DIR - 1)];
	__u32 plen = gl->len;
	if (plen >= GLOB_SIZE)
		return 0;
	bpf_probe_read_kernel(s->pattern, sizeof(s->pattern), gl->pattern);
	struct glob_walk *g = &s->walk;
	g->base = m->at + 1;
	g->tlen = m->len - m->at - 1;
	g->plen = plen;
	g->pi = 0;
	g->ti = 0;
	g->star = -1;
	g->mark = 0;
	g->matched = 0;
	bpf_loop(GLOB_STEPS, glob_step, NULL, 0);
	if (!g->matched)
		return 0;
	m->rule = gl->rule;
	return 1;
}

/* Copies scratch->name[0..len) into the zero-padded scratch->key. */
static __always_inline void set_key(struct scratch *s, __u32 len)
{
	__builtin_memset(&s->key, 0, sizeof(s->key));
	if (len > 0 && len < KEY_SIZE)
		bpf_probe_read_kernel(s->key.path, len & (KEY_SIZE - 1), s->name);
}

/*
 * match returns the id of the first rule matching scratch->name (len bytes), or 0: a rule of the
 * same path, else a glob of the same directory whose pattern matches the last component.
 */
static __always_inline __u32 match(struct scratch *s, __u32 len)
{
	if (len == 0 || len >= KEY_SIZE || s->name[0] != '/')
		return 0; /* no rule is longer than KEY_SIZE - 1 bytes, and every rule is absolute */
	set_key(s, len);
	__u32 *id = bpf_map_lookup_elem(&bexec_paths, &s->key);
	if (id)
		return *id;

	struct match_state m = {.len = len};
	bpf_loop(KEY_SIZE, last_slash_step, &m, 0);
	/* The directory of "/x" is "/". */
	set_key(s, m.at ? m.at : 1);
	bpf_loop(GLOBS_PER_DIR, glob_try, &m, 0);
	return m.rule;
}

/*
 * Copies a name (src, a NUL-terminated string in scratch) to scratch->name and matches it;
 * names too long to match any rule match none.
 */
static __always_inline __u32 match_name(struct scratch *s, const char *src)
{
	long n = bpf_probe_read_kernel_str(s->name, sizeof(s->name), src);
	if (n <= 1 || n >= KEY_SIZE)
		return 0; /* empty, or possibly longer than any rule */
	return match(s, n - 1);
}

/* --- decisions ----------------------------------------------------------------------------- */

struct verdict {
	__u32 rule;
	__u8 reason;
	__u8 which;
	enum upper_layer_state upper;
	bool exepath_cut;
};

/*
 * What check() looks at, besides the policy: the checked file (its canonical path is in
 * scratch->exepath), the path as requested (scratch->file) and the #! interpreter
 * (scratch->interp, empty when there is none).
 *   file_denies:   a --deny-paths rule matching the requested path stops the exec
 *   file_allowed:  with --allow-paths, the requested path must match a rule too (a script the
 *                  kill mechanism only knows by that name)
 */
struct checks {
	bool file_denies;
	bool file_allowed;
};

/* check returns true when the exec must be stopped, with the reason in v. */
static __always_inline bool check(struct scratch *s, struct policy *pol, struct checks c,
				  struct verdict *v)
{
	__u32 rule;

	if (pol->deny_upper && v->upper == YES) {
		v->reason = REASON_UPPER_LAYER;
		v->which = WHICH_EXEPATH;
		return true;
	}
	if (pol->allow) {
		if (v->exepath_cut || !match_name(s, s->exepath)) {
			v->reason = REASON_NOT_ALLOWED;
			v->which = WHICH_EXEPATH;
			return true;
		}
		if (c.file_allowed && !match_name(s, s->file)) {
			v->reason = REASON_NOT_ALLOWED;
			v->which = WHICH_FILE;
			return true;
		}
		return false;
	}
	v->reason = REASON_DENIED;
	if (!v->exepath_cut && (rule = match_name(s, s->exepath))) {
		v->rule = rule;
		v->which = WHICH_EXEPATH;
		return true;
	}
	if (c.file_denies && (rule = match_name(s, s->file))) {
		v->rule = rule;
		v->which = WHICH_FILE;
		return true;
	}
	if ((rule = match_name(s, s->interp))) {
		v->rule = rule;
		v->which = WHICH_INTERP;
		return true;
	}
	return false;
}

/* in_scope tells whether the current task is one the policy applies to. */
static __always_inline bool in_scope(struct gadget_process *p)
{
	/* No container selection and no --host: nothing is enforced (the WASM module refuses to
	 * start such a run; this is the kernel's own guard). */
	if (!gadget_filter_by_mntns && !host)
		return false;
	return !gadget_should_discard_data(p->mntns_id, p->pid, p->tid, p->comm, p->creds.uid,
					   p->creds.gid);
}

static __always_inline struct policy *active_policy(void)
{
	__u32 zero = 0;
	struct policy *pol = bpf_map_lookup_elem(&bexec_policy, &zero);
	return pol && pol->enabled ? pol : NULL;
}

/* Reads the checked file's canonical path into scratch->exepath and its upper-layer state. */
static __always_inline void checked_file(struct scratch *s, struct file *file, struct verdict *v)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	v->exepath_cut = gadget_path_of(BPF_CORE_READ(file, f_path.dentry),
					BPF_CORE_READ(file, f_path.mnt),
					BPF_CORE_READ(task, fs, root.dentry),
					BPF_CORE_READ(task, fs, root.mnt), s->exepath, sizeof(s->exepath),
					NULL);
	v->upper = gadget_inode_upper_state(BPF_CORE_READ(file, f_inode));
}

/* Fills the event of a decision, except its argv. NULL when the ring buffer is full (counted). */
static __always_inline struct event *new_event(struct scratch *s, struct gadget_process *p,
					       struct verdict *v, __u8 mechanism, __u8 action)
{
	struct event *e = gadget_reserve_buf(bexec_events, sizeof(*e));
	if (!e)
		return NULL;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->proc = *p;
	e->upper_layer = v->upper;
	e->error_raw = 0;
	e->__rule = v->rule;
	e->__reason = v->reason;
	e->__which = v->which;
	e->__action = action;
	e->__mechanism = mechanism;
	e->exepath_truncated = v->exepath_cut;
	bpf_probe_read_kernel(e->exepath, sizeof(e->exepath), s->exepath);
	bpf_probe_read_kernel(e->file, sizeof(e->file), s->file);
	bpf_probe_read_kernel(e->interp, sizeof(e->interp), s->interp);
	return e;
}

/*
 * decide reads what the check needs from bprm into the scratch buffers and applies the policy:
 * it returns the policy when the exec must be stopped (v says why, *sp is the scratch), else NULL.
 * lsm says which hook calls it. At bprm_check_security the first check of an exec is for the
 * requested file (bprm->interp still is bprm->filename), and a script brings one more per
 * interpreter, with bprm->file the interpreter and bprm->interp the name its #! line gave. At
 * sched_process_exec bprm->file is the binary, or the last interpreter of a script, and the
 * requested path is the script's.
 */
static __always_inline struct policy *decide(struct linux_binprm *bprm, bool lsm,
					     struct gadget_process *p, struct verdict *v,
					     struct scratch **sp)
{
	struct policy *pol = active_policy();
	struct scratch *s;

	if (!pol)
		return NULL;
	gadget_process_populate(p);
	if (!in_scope(p))
		return NULL;
	s = get_scratch();
	if (!s)
		return NULL;
	*sp = s;
	const char *filename = BPF_CORE_READ(bprm, filename);
	const char *interp = BPF_CORE_READ(bprm, interp);
	bool named = interp != filename; /* a #! line named the interpreter */
	checked_file(s, BPF_CORE_READ(bprm, file), v);
	bpf_probe_read_kernel_str(s->file, sizeof(s->file), filename);
	s->interp[0] = 0;
	if (named)
		bpf_probe_read_kernel_str(s->interp, sizeof(s->interp), interp);
	struct checks c = {
		.file_denies = !lsm || !named,
		.file_allowed = !lsm && named,
	};
	return check(s, pol, c, v) ? pol : NULL;
}

/* --- the lsm mechanism ------------------------------------------------------------------- */

#if defined(__TARGET_ARCH_x86)
#define NR_EXECVE 59
#define NR_EXECVEAT 322
#elif defined(__TARGET_ARCH_arm64)
#define NR_EXECVE 221
#define NR_EXECVEAT 281
#endif

struct pt_regs___be_x86 {
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct pt_regs___be_arm64 {
	int syscallno;
} __attribute__((preserve_access_index));

/*
 * The argv of the exec syscall in progress, from the caller's registers: at
 * bprm_check_security the old program's memory is still the current one.
 */
static __always_inline const char *const *syscall_argv(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr;

	if (bpf_core_field_exists(struct pt_regs___be_x86, orig_ax))
		nr = BPF_CORE_READ((struct pt_regs___be_x86 *)regs, orig_ax);
	else
		nr = BPF_CORE_READ((struct pt_regs___be_arm64 *)regs, syscallno);
	if (nr == NR_EXECVE)
		return (const char *const *)PT_REGS_PARM2_CORE_SYSCALL(regs);
	if (nr == NR_EXECVEAT)
		return (const char *const *)PT_REGS_PARM3_CORE_SYSCALL(regs);
	return NULL; /* an exec the kernel started itself (kernel_execve) */
}

SEC("lsm/bprm_check_security")
int BPF_PROG(block_exec_lsm, struct linux_binprm *bprm, int ret)
{
	struct gadget_process p = {};
	struct verdict v = {};
	struct policy *pol;
	struct scratch *s;
	struct event *e;

	if (ret)
		return ret; /* already refused */
	pol = decide(bprm, true, &p, &v, &s);
	if (!pol)
		return 0;

	e = new_event(s, &p, &v, MECHANISM_LSM, pol->audit ? ACTION_AUDITED : ACTION_DENIED);
	if (e) {
		const char *const *argv = syscall_argv();
		if (argv) {
			e->args_truncated =
				gadget_read_user_argv(argv, e->args, &e->args_size, &e->args_count);
		} else {
			e->args_truncated = false;
			e->args_size = 0;
			e->args_count = 0;
		}
		gadget_submit_buf(e);
	}
	return pol->audit ? 0 : -EPERM;
}

/* --- the kill mechanism ------------------------------------------------------------------ */

SEC("raw_tracepoint/sched_process_exec")
int block_exec_kill(struct bpf_raw_tracepoint_args *ctx)
{
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	struct gadget_process p = {};
	struct verdict v = {};
	struct policy *pol;
	struct scratch *s;
	struct event *e;
	__u8 action = ACTION_AUDITED;
	long err = 0;

	pol = decide(bprm, false, &p, &v, &s);
	if (!pol)
		return 0;
	if (!pol->audit) {
		err = bpf_send_signal(SIGKILL);
		action = err ? ACTION_KILL_FAILED : ACTION_KILLED;
	}
	e = new_event(s, &p, &v, MECHANISM_KILL, action);
	if (!e)
		return 0;
	e->error_raw = err < 0 ? -err : 0;
	e->args_truncated = gadget_read_mm_args((struct task_struct *)bpf_get_current_task(),
						e->args, &e->args_size);
	e->args_count = BPF_CORE_READ(bprm, argc);
	gadget_submit_buf(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
