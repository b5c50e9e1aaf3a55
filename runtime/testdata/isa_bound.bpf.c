/* SPDX-License-Identifier: Apache-2.0 */
/* A bound the verifier loses when clang 19 compiles this for BPF ISA v1, its default: the
 * check runs on a zero-extended copy of the 32-bit index, and the index kept for the store is
 * then narrowed with `& 0x1ff`, which the verifier cannot prove below 500. Compiled with
 * -mcpu=v3 (32-bit jumps) the check and the store use the same register, and it loads. */
#include <gadget.h>

#define SLOTS 500

struct slots {
	unsigned char seen[SLOTS + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, struct slots);
	__uint(max_entries, 16);
} gtest_slots SEC(".maps");

const struct slots gtest_zero_slots = {};

SEC("raw_tracepoint/sys_enter")
int gtest_isa(struct bpf_raw_tracepoint_args *ctx)
{
	unsigned int id = ctx->args[1];
	char comm[16];
	__u64 key;
	struct slots *s;

	if (id >= SLOTS)
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	key = comm[0];
	s = bpf_map_lookup_elem(&gtest_slots, &key);
	if (!s) {
		bpf_map_update_elem(&gtest_slots, &key, &gtest_zero_slots, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&gtest_slots, &key);
		if (!s)
			return 0;
	}
	s->seen[id] = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
