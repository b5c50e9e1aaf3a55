/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <gadget/fnv1a.h> run by the kernel: an XDP program (run with BPF_PROG_TEST_RUN, never
 * attached) hashes fixed values with each update function and stores the hashes in gtest_fnv:
 * [0] the 32-bit hash, [1] the 64-bit one, of a u64, a u32, a u16 and a u8, in that order.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/fnv1a.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} gtest_fnv SEC(".maps");

SEC("xdp")
int gtest_fnv_hash(struct xdp_md *ctx)
{
	__u32 h32 = fnv_32a_init(), k0 = 0, k1 = 1;
	__u64 h64 = fnv_64a_init(), v;

	fnv_32a_update_u64(&h32, 0x0123456789abcdefULL);
	fnv_32a_update_u32(&h32, 0xdeadbeef);
	fnv_32a_update_u16(&h32, 0xcafe);
	fnv_32a_update_u8(&h32, 0x42);
	fnv_64a_update_u64(&h64, 0x0123456789abcdefULL);
	fnv_64a_update_u32(&h64, 0xdeadbeef);
	fnv_64a_update_u16(&h64, 0xcafe);
	fnv_64a_update_u8(&h64, 0x42);
	v = h32;
	bpf_map_update_elem(&gtest_fnv, &k0, &v, BPF_ANY);
	bpf_map_update_elem(&gtest_fnv, &k1, &h64, BPF_ANY);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
