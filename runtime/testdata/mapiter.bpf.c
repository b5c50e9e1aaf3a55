/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A map-iterator gadget for the runtime's tests: counts getppid() calls per process in a hash
 * map that the runtime dumps (and empties) every map-fetch-interval.
 */
#include <gadget.h>

struct gtest_calls_key {
	gadget_pid pid;
	gadget_comm comm[TASK_COMM_LEN];
};

struct gtest_calls_value {
	__u64 calls;
	gadget_timestamp last_raw;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct gtest_calls_key);
	__type(value, struct gtest_calls_value);
} gtest_calls SEC(".maps");

GADGET_MAPITER(calls, gtest_calls);

SEC("tracepoint/syscalls/sys_enter_getppid")
int gtest_getppid(void *ctx)
{
	struct gtest_calls_key key = {};
	struct gtest_calls_value zero = {}, *v;

	key.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	v = bpf_map_lookup_elem(&gtest_calls, &key);
	if (!v) {
		bpf_map_update_elem(&gtest_calls, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&gtest_calls, &key);
		if (!v)
			return 0;
	}
	__sync_fetch_and_add(&v->calls, 1);
	v->last_raw = bpf_ktime_get_boot_ns();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
