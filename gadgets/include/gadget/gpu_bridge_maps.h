/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GPU bridge's maps, pinned by name so that a gadget shares them with the daemon that
 * fills them (see <gadget/gpu_types.h>), and two helpers. Header name, map names and
 * helpers as Inspektor Gadget's gadgets use them. Define, before including it, which maps
 * the gadget reads:
 *
 *	GPU_BRIDGE_WANT_META			gpu_meta and gpu_meta_fresh()
 *	GPU_BRIDGE_WANT_DEVICE			gpu_device
 *	GPU_BRIDGE_WANT_PER_PID			gpu_per_pid and gpu_pid_holder()
 *	GPU_BRIDGE_WANT_PER_PID_PER_DEVICE	gpu_per_pid_per_device
 *	GPU_BRIDGE_WANT_ALL			all four
 *
 * Without a running bridge (no NVIDIA GPU, say) the maps are empty: gpu_meta_fresh() and
 * gpu_pid_holder() answer NULL, and the run says so once.
 */
#ifndef GADGETRY_GPU_BRIDGE_MAPS_H
#define GADGETRY_GPU_BRIDGE_MAPS_H

#include <bpf/bpf_helpers.h>
#include <gadget/gpu_types.h>

#ifdef GPU_BRIDGE_WANT_ALL
#ifndef GPU_BRIDGE_WANT_META
#define GPU_BRIDGE_WANT_META
#endif
#ifndef GPU_BRIDGE_WANT_DEVICE
#define GPU_BRIDGE_WANT_DEVICE
#endif
#ifndef GPU_BRIDGE_WANT_PER_PID
#define GPU_BRIDGE_WANT_PER_PID
#endif
#ifndef GPU_BRIDGE_WANT_PER_PID_PER_DEVICE
#define GPU_BRIDGE_WANT_PER_PID_PER_DEVICE
#endif
#endif

#ifdef GPU_BRIDGE_WANT_META
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gpu_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_meta SEC(".maps");

/*
 * gpu_meta_fresh returns the bridge's state when its last update is at most max_age_ms
 * old at now_boot_ns (a CLOCK_BOOTTIME time: bpf_ktime_get_boot_ns()), else NULL: a
 * stopped bridge's figures are not taken for current ones.
 */
static __always_inline struct gpu_meta *gpu_meta_fresh(__u64 now_boot_ns, __u64 max_age_ms)
{
	__u32 key = 0;
	struct gpu_meta *m = bpf_map_lookup_elem(&gpu_meta, &key);

	if (m == NULL || now_boot_ns - m->last_update_boottime_ns > max_age_ms * 1000000ULL)
		return NULL;
	return m;
}
#endif

#ifdef GPU_BRIDGE_WANT_DEVICE
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GPU_MAX_DEVICES);
	__type(key, __u32);
	__type(value, struct gpu_device_metrics);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_device SEC(".maps");
#endif

#ifdef GPU_BRIDGE_WANT_PER_PID
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct gpu_pid_metrics_aggregated);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_per_pid SEC(".maps");

/*
 * gpu_pid_holder returns the record of the process tgid when it holds at least min_bytes
 * of GPU memory over all devices, else NULL.
 */
static __always_inline struct gpu_pid_metrics_aggregated *gpu_pid_holder(__u32 tgid, __u64 min_bytes)
{
	struct gpu_pid_metrics_aggregated *p = bpf_map_lookup_elem(&gpu_per_pid, &tgid);

	if (p == NULL || p->used_gpu_memory_total < min_bytes)
		return NULL;
	return p;
}
#endif

#ifdef GPU_BRIDGE_WANT_PER_PID_PER_DEVICE
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);	/* tgid << 32 | device index */
	__type(value, struct gpu_pid_metrics);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_per_pid_per_device SEC(".maps");
#endif

#endif /* GADGETRY_GPU_BRIDGE_MAPS_H */
