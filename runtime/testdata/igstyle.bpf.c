/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gadget written the way Inspektor Gadget's gadgets are (headers one by one, IG's sections and
 * conventions), for the runtime's tests of those conventions:
 *   - a map declared with max_entries 0, sized by the parameter <map>_max_entries;
 *   - a socket filter (SEC("socket1")) and a tc classifier (classifier/ingress/<name>);
 *   - a uprobe on a short library name (uprobe/libc:exit; -DGTEST_EXIT_LIB='"name"' names
 *     another library), which records the mount namespace
 *     of each exiting process named "true" (by pid): a test tells a container's exits from the
 *     host's, and from those of runc's helpers, which call the host's libc in the container's
 *     namespace;
 *   - one iterator marker naming two programs;
 *   - the collect_ustack parameter of <gadget/user_stack_map.h>, keyed collect-ustack.
 * -DWITH_PINNED adds a map pinned by name.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/mntns.h>
#include <gadget/user_stack_map.h> /* its collect_ustack parameter is --collect-ustack */

#define TC_ACT_UNSPEC -1

/* A tracer keeps the run going after the iterators' snapshots. */
struct gtest_ig_event {
	gadget_pid pid;
};
GADGET_TRACER_MAP(gtest_ig_events, 4096);
GADGET_TRACER(gtest_ig, gtest_ig_events, gtest_ig_event);

const volatile __u32 gtest_sized_max_entries = 64;
GADGET_PARAM(gtest_sized_max_entries);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 0); /* sized at load from gtest_sized_max_entries */
	__type(key, __u32);
	__type(value, __u64);
} gtest_sized SEC(".maps");

/* hits: [0] socket filter, [1] classifier */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} gtest_ig_hits SEC(".maps");

/* processes whose libc exit() the uprobe saw */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} gtest_exits SEC(".maps");

#ifdef WITH_PINNED
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gtest_ig_shared SEC(".maps");
#endif

static __always_inline void hit(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&gtest_ig_hits, &i);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("socket1")
int gtest_ig_socket(struct __sk_buff *skb)
{
	hit(0);
	return 0;
}

SEC("classifier/ingress/gtest")
int gtest_ig_tc(struct __sk_buff *skb)
{
	hit(1);
	return TC_ACT_UNSPEC;
}

#ifndef GTEST_EXIT_LIB
#define GTEST_EXIT_LIB "libc"
#endif
SEC("uprobe/" GTEST_EXIT_LIB ":exit")
int BPF_UPROBE(gtest_ig_exit, int status)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 mntns = gadget_get_current_mntns_id();
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	if (comm[0] != 't' || comm[1] != 'r' || comm[2] != 'u' || comm[3] != 'e' || comm[4] != 0)
		return 0;
	bpf_map_update_elem(&gtest_exits, &tgid, &mntns, BPF_ANY);
	return 0;
}

struct gtest_ig_task {
	gadget_pid pid;
	__u32 which;
};

GADGET_ITER(gtest_tasks, gtest_ig_task, gtest_ig_iter_a, gtest_ig_iter_b);

static __always_inline int write_task(struct bpf_iter__task *ctx, __u32 which)
{
	struct task_struct *task = ctx->task;
	struct gtest_ig_task r = {};

	/* One record per iterator: the first process seen. */
	if (!task || ctx->meta->seq_num > 0)
		return 0;
	r.pid = task->tgid;
	r.which = which;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

SEC("iter/task")
int gtest_ig_iter_a(struct bpf_iter__task *ctx)
{
	return write_task(ctx, 1);
}

SEC("iter/task")
int gtest_ig_iter_b(struct bpf_iter__task *ctx)
{
	return write_task(ctx, 2);
}

char LICENSE[] SEC("license") = "GPL";
