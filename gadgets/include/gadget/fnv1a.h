/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FNV-1a hashes, 32 and 64 bits (the header name and functions Inspektor Gadget's headers
 * use). A hash starts from fnv_32a_init() or fnv_64a_init(); each fnv_*_update_uN(&hash, v)
 * folds in the N/8 bytes of v, least significant first: for every byte, hash ^= byte, then
 * hash *= the FNV prime. The result is Go's hash/fnv New32a/New64a over the same bytes.
 */
#ifndef GADGETRY_FNV1A_H
#define GADGETRY_FNV1A_H

#define FNV1_32_INIT ((__u32)0x811c9dc5)
#define FNV1_32_PRIME ((__u32)0x01000193)
#define FNV1_64_INIT ((__u64)0xcbf29ce484222325ULL)
#define FNV1_64_PRIME ((__u64)0x00000100000001b3ULL)

static __always_inline __u32 fnv_32a_init(void)
{
	return FNV1_32_INIT;
}

static __always_inline __u64 fnv_64a_init(void)
{
	return FNV1_64_INIT;
}

/* fnv_32a_bytes and fnv_64a_bytes fold the n low bytes of v into *hash (n at most 8). */
static __always_inline void fnv_32a_bytes(__u32 *hash, __u64 v, int n)
{
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (i >= n)
			break;
		*hash = (*hash ^ (__u8)(v >> (8 * i))) * FNV1_32_PRIME;
	}
}

static __always_inline void fnv_64a_bytes(__u64 *hash, __u64 v, int n)
{
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (i >= n)
			break;
		*hash = (*hash ^ (__u8)(v >> (8 * i))) * FNV1_64_PRIME;
	}
}

static __always_inline void fnv_32a_update_u64(__u32 *hash, __u64 v) { fnv_32a_bytes(hash, v, 8); }
static __always_inline void fnv_32a_update_u32(__u32 *hash, __u32 v) { fnv_32a_bytes(hash, v, 4); }
static __always_inline void fnv_32a_update_u16(__u32 *hash, __u16 v) { fnv_32a_bytes(hash, v, 2); }
static __always_inline void fnv_32a_update_u8(__u32 *hash, __u8 v) { fnv_32a_bytes(hash, v, 1); }

static __always_inline void fnv_64a_update_u64(__u64 *hash, __u64 v) { fnv_64a_bytes(hash, v, 8); }
static __always_inline void fnv_64a_update_u32(__u64 *hash, __u32 v) { fnv_64a_bytes(hash, v, 4); }
static __always_inline void fnv_64a_update_u16(__u64 *hash, __u16 v) { fnv_64a_bytes(hash, v, 2); }
static __always_inline void fnv_64a_update_u8(__u64 *hash, __u8 v) { fnv_64a_bytes(hash, v, 1); }

#endif /* GADGETRY_FNV1A_H */
