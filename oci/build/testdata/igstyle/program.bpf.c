/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gadget written the way Inspektor Gadget's gadgets are written, against Gadgetry's headers:
 * every header name and helper IG's gadgets use, IG's buffer API (map addresses, four-argument
 * submit), its endpoint and stack types. The build test compiles it for both architectures.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/mntns.h>
#include <gadget/mntns_filter.h>
#include <gadget/filesystem.h>
#include <gadget/bits.bpf.h>
#include <gadget/maps.bpf.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/user_stack_map.h>
#include <gadget/fnv1a.h>
#include <gadget/packetfilter.h>
#define GADGET_TYPE_NETWORKING
#include <gadget/sockets-map.h>
#define GPU_BRIDGE_WANT_ALL
#include <gadget/gpu_bridge_maps.h>

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_tid tid;
	struct gadget_l4endpoint_t dst;
	gadget_kernel_stack kstack_raw;
	struct gadget_user_stack ustack;
	__u64 slot;
	char path[GADGET_PATH_MAX];
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(igstyle, events, event);

const volatile __u32 counts_max_entries = 128;
GADGET_PARAM(counts_max_entries);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 0);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

GADGET_PF();

SEC("kprobe/tcp_connect")
int BPF_KPROBE(igstyle_connect, struct sock *sk)
{
	struct event *e;
	__u64 zero = 0, *n;
	__u32 pid;

	if (gadget_should_discard_data_current())
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	gadget_process_populate(&e->proc);
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	e->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->dst.proto_raw = IPPROTO_TCP;
	e->dst.version = 4;
	e->kstack_raw = gadget_get_kernel_stack(ctx);
	gadget_get_user_stack(ctx, &e->ustack);
	e->slot = get_slot_idx(e->timestamp_raw);
	__u32 h = fnv_32a_init();
	fnv_32a_update_u64(&h, e->slot);
	e->tid ^= h & 1;
	read_full_path_of_open_file_fd(0, e->path, sizeof(e->path));
	pid = e->proc.pid;
	n = bpf_map_lookup_or_try_init(&counts, &pid, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

SEC("tracepoint/block/block_rq_issue")
int igstyle_rq(struct trace_event_raw_block_rq *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct gadget_user_stack ustack;
	__u64 rec[2];

	if (gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return 0;
	gadget_get_user_stack_from_tracepoint(ctx, &ustack);
	struct gpu_meta *gm = gpu_meta_fresh(bpf_ktime_get_boot_ns(), 1000);
	__u32 dev = 0;
	struct gpu_device_metrics *d = bpf_map_lookup_elem(&gpu_device, &dev);
	__u64 pd = (__u64)bpf_get_current_pid_tgid() << 32;
	struct gpu_pid_metrics *pm = bpf_map_lookup_elem(&gpu_per_pid_per_device, &pd);
	if (gm && d && pm && gpu_pid_holder(bpf_get_current_pid_tgid() >> 32, 1))
		return d->sm_util_pct + pm->gpu_device + gm->n_devices;
	rec[0] = get_task_state(task);
	rec[1] = ustack.exe_inode;
	char *cwd = get_path_str(&fs->pwd);
	if (!cwd || !cwd[0])
		return 0;
	gadget_output_buf(ctx, &events, rec, sizeof(rec));
	return 0;
}

SEC("socket1")
int igstyle_socket(struct __sk_buff *skb)
{
	struct gadget_process p = {};

	if (!gadget_pf_matches((void *)skb, (void *)(long)skb->data, (void *)(long)skb->data_end))
		return 0;
	gadget_process_populate_from_socket(gadget_socket_lookup(skb), &p);
	return p.pid;
}

SEC("uprobe/libc:malloc")
int BPF_UPROBE(igstyle_malloc, size_t size)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
