/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User stack traces (the header name and API of Inspektor Gadget's gadgets):
 *
 *   struct event { struct gadget_user_stack ustack; ... };
 *   gadget_get_user_stack(ctx, &event->ustack);                  kprobes, uprobes, perf events
 *   gadget_get_user_stack_from_tracepoint(ctx, &event->ustack);  tracepoints
 *
 * With the parameter collect_ustack (--collect-ustack) false, the default, the stack is left
 * zeroed and costs nothing; otherwise its id in the stack map ig_ustack and the executable's
 * identity are recorded. Gadgetry shows these numbers; it does not symbolize user stacks.
 */
#ifndef GADGETRY_USER_STACK_MAP_H
#define GADGETRY_USER_STACK_MAP_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <gadget/types.h>
#include <gadget/macros.h>
/* What IG's header brings too. */
#include <gadget/fnv1a.h>
#include <gadget/core_fixes.bpf.h>

#define GADGET_USER_MAX_STACK_DEPTH 127
#define GADGET_USER_STACK_MAP_MAX_ENTRIES 10000

const volatile bool collect_ustack = false;
GADGET_PARAM(collect_ustack);

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_USER_MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, GADGET_USER_STACK_MAP_MAX_ENTRIES);
} ig_ustack SEC(".maps");

static __always_inline void __gadget_fill_user_stack(void *ctx, struct gadget_user_stack *u)
{
	struct task_struct *task;

	__builtin_memset(u, 0, sizeof(*u));
	if (!collect_ustack)
		return;
	task = (struct task_struct *)bpf_get_current_task();
	u->pid = bpf_get_current_pid_tgid() >> 32;
	u->stack_id = bpf_get_stackid(ctx, &ig_ustack, BPF_F_USER_STACK);
	u->exe_inode = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
	u->exe_dev = BPF_CORE_READ(task, mm, exe_file, f_inode, i_sb, s_dev);
	u->pid_level1 = BPF_CORE_READ(task, thread_pid, numbers[1].nr);
}

#define gadget_get_user_stack(ctx, ustack) __gadget_fill_user_stack(ctx, ustack)
#define gadget_get_user_stack_from_tracepoint(ctx, ustack) __gadget_fill_user_stack(ctx, ustack)

#endif /* GADGETRY_USER_STACK_MAP_H */
