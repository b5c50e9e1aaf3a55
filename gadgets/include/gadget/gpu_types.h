/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The records of the GPU bridge, version 1 of its schema: a user-space daemon
 * (gpu-ebpf-bridge, which reads NVIDIA's management library) writes them into BPF maps
 * pinned by name, and gadgets read them (<gadget/gpu_bridge_maps.h> declares the maps).
 * The layouts are an interface with that daemon: each field keeps its name, type and
 * place, and a new field would be a new schema version. Header name and record names
 * as Inspektor Gadget's gadgets include and use them.
 *
 * Units: times in nanoseconds, memory in bytes, rates in kilobits per second,
 * utilizations in percent (0..100), power in milliwatts, clocks in MHz.
 */
#ifndef GADGETRY_GPU_TYPES_H
#define GADGETRY_GPU_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define GPU_SCHEMA_VERSION 1
/* Devices the bridge describes: the gpu_device array's size. */
#define GPU_MAX_DEVICES 16
/* gpu_device_primary of a process whose memory is on several devices. */
#define GPU_DEVICE_PRIMARY_MULTI 0xFF

/* The bridge's state: the single entry of gpu_meta. */
struct gpu_meta {
	__u32 schema_version;		/* GPU_SCHEMA_VERSION of the writer */
	__u32 n_devices;		/* entries of gpu_device in use */
	__u64 last_update_boottime_ns;	/* CLOCK_BOOTTIME of the bridge's last update */
	__u32 helper_pid;		/* the daemon's process */
	__u32 _reserved;
	__s64 clock_offset_ns;		/* CLOCK_REALTIME minus CLOCK_BOOTTIME at that update:
					 * a wall-clock time minus it is a boot-time one */
};

/* One device, the entry of gpu_device at its index. */
struct gpu_device_metrics {
	__u64 timestamp_ns;
	__u32 sm_util_pct;		/* streaming multiprocessors busy */
	__u32 mem_util_pct;		/* memory controller busy */
	__u64 mem_total;		/* memory on the device */
	__u64 mem_used;			/* allocated by programs, mem_reserved not included */
	__u64 mem_reserved;		/* kept by the driver and firmware */
	__u32 temp_c;
	__u32 power_mw;
	__u32 sm_clock_mhz;
	__u32 mem_clock_mhz;
	__u64 throttle_reasons;		/* the management library's clock-event bits */
	__u64 pcie_tx_kbps;
	__u64 pcie_rx_kbps;
	__u32 enc_util_pct;		/* video encoder busy */
	__u32 dec_util_pct;		/* video decoder busy */
	__u64 nvlink_tx_kbps;		/* 0 without NVLink */
	__u64 nvlink_rx_kbps;
	__u64 ecc_corrected_total;
	__u64 ecc_uncorrected_total;
	__u32 fan_speed_pct;		/* 0 without a fan the driver controls */
	__u32 compute_mode;		/* the management library's compute mode value */
};

/* One process on one device, the entry of gpu_per_pid_per_device at (tgid << 32 | device). */
struct gpu_pid_metrics {
	__u64 timestamp_ns;
	__u64 used_gpu_memory;
	__u32 sm_util_pct;
	__u32 mem_util_pct;
	__u32 enc_util_pct;
	__u32 dec_util_pct;
	__u8 gpu_device;
	__u8 mig_instance;		/* 0: version 1 has no MIG partitions */
	__u16 _pad;
};

/* One process over all devices, the entry of gpu_per_pid at its tgid (host's numbering). */
struct gpu_pid_metrics_aggregated {
	__u64 timestamp_ns;
	__u64 used_gpu_memory_total;	/* summed over devices */
	__u32 sm_util_pct_max;		/* highest over devices */
	__u32 mem_util_pct_max;
	__u8 gpu_device_primary;	/* the device, or GPU_DEVICE_PRIMARY_MULTI */
	__u8 device_count;
	__u16 _pad;
};

#endif /* GADGETRY_GPU_TYPES_H */
