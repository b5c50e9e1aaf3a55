/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A CUDA profiler's shape, as Inspektor Gadget's are written: uprobes on NVIDIA's libraries
 * (the driver API, libcuda, and the runtime, libcudart) and a tracepoint that forgets a
 * process when it exits. Where those libraries are absent the uprobes cannot attach.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} gtest_cuda_bytes SEC(".maps");

SEC("uprobe/libcuda:cuMemAlloc_v2")
int BPF_UPROBE(gtest_cu_alloc, void *dptr, __u64 size)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_update_elem(&gtest_cuda_bytes, &tgid, &size, BPF_ANY);
	return 0;
}

SEC("uretprobe/libcuda:cuMemAlloc_v2")
int BPF_URETPROBE(gtest_cu_alloc_ret)
{
	return 0;
}

SEC("uprobe/libcudart:cudaMalloc")
int BPF_UPROBE(gtest_cudart_malloc)
{
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int gtest_cu_exit(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&gtest_cuda_bytes, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
