/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A log2 histogram in a dumped map, as Inspektor Gadget's profile gadgets keep them: per
 * argument of getsid() from GTEST_KEY_MIN up (no such process: the calls fail harmlessly),
 * each call counts in the slot of log2 of that key's calls so far (1: slot 0, 2 and 3: slot 1,
 * 4 to 7: slot 2, ...). The runtime dumps and empties the map every map-fetch-interval, so n
 * calls with a fresh key give a known histogram.
 */
#include <gadget.h>
#include <gadget/bits.bpf.h>
#include <gadget/maps.bpf.h>

#define GTEST_SLOTS 8
#define GTEST_KEY_MIN 0x7e000000

struct gtest_hist_key {
	__u32 key;
};

struct gtest_hist_value {
	__u64 calls;
	gadget_histogram_slot__u32 hist[GTEST_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct gtest_hist_key);
	__type(value, struct gtest_hist_value);
} gtest_hists SEC(".maps");

GADGET_MAPITER(hists, gtest_hists);

SEC("tracepoint/syscalls/sys_enter_getsid")
int gtest_hist_getsid(struct trace_event_raw_sys_enter *ctx)
{
	struct gtest_hist_key key = { .key = (__u32)ctx->args[0] };
	struct gtest_hist_value zero = {}, *v;
	__u64 slot;

	if (key.key < GTEST_KEY_MIN)
		return 0;
	v = bpf_map_lookup_or_try_init(&gtest_hists, &key, &zero);
	if (!v)
		return 0;
	slot = log2l(__sync_fetch_and_add(&v->calls, 1) + 1);
	if (slot >= GTEST_SLOTS)
		slot = GTEST_SLOTS - 1;
	__sync_fetch_and_add(&v->hist[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
