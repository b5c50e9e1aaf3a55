/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gadget reading the GPU bridge's maps (<gadget/gpu_bridge_maps.h>) as Inspektor Gadget's
 * GPU gadgets do: on each getppid() call, the calling process's GPU memory when the bridge's
 * state is fresh. Without a bridge daemon the maps stay empty.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#define GPU_BRIDGE_WANT_META
#define GPU_BRIDGE_WANT_PER_PID
#include <gadget/gpu_bridge_maps.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gtest_gpu_bytes SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int gtest_gpu_mem(void *ctx)
{
	struct gpu_pid_metrics_aggregated *p;
	__u32 zero = 0;

	if (!gpu_meta_fresh(bpf_ktime_get_boot_ns(), 5000))
		return 0;
	p = gpu_pid_holder(bpf_get_current_pid_tgid() >> 32, 1);
	if (p)
		bpf_map_update_elem(&gtest_gpu_bytes, &zero, &p->used_gpu_memory_total, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
