/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bit arithmetic for histograms (the header name Inspektor Gadget's gadgets include):
 * log2(v) and log2l(v) are the index of the highest bit set (0 for 0 and 1), get_slot_idx(v)
 * the histogram slot of v: 0 for 0, else log2(v) + 1, so slot i holds [2^(i-1), 2^i).
 */
#ifndef GADGETRY_BITS_BPF_H
#define GADGETRY_BITS_BPF_H

static __always_inline __u64 log2(__u32 v)
{
	__u32 r = 0;

	/* A binary search for the highest bit: five steps for 32 bits, no loop. */
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2(hi) + 32 : log2((__u32)v);
}

static __always_inline __u64 get_slot_idx(__u64 v)
{
	return v ? log2l(v) + 1 : 0;
}

#endif /* GADGETRY_BITS_BPF_H */
