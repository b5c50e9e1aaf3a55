/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A map-element iterator (SEC("iter/bpf_map_elem")) named to its map with
 * GADGET_ITER_TARGET_MAP, as Inspektor Gadget's gadgets declare one: it writes one record per
 * element of a three-element array, its value plus 7, so a record shows the program read it.
 */
#include <gadget.h>

struct gtest_elem {
	__u32 key;
	__u64 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} gtest_elems_map SEC(".maps");

GADGET_ITER(elems, gtest_elem, gtest_dump);
GADGET_ITER_TARGET_MAP(gtest_dump, gtest_elems_map);

SEC("iter/bpf_map_elem")
int gtest_dump(struct bpf_iter__bpf_map_elem *ctx)
{
	__u32 *key = ctx->key;
	__u64 *value = ctx->value;

	if (!key || !value)
		return 0;
	struct gtest_elem e = { .key = *key, .value = *value + 7 };
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
