/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Map helpers (the header name Inspektor Gadget's gadgets include).
 *
 * bpf_map_lookup_or_try_init(map, key, init): the value of key, after inserting *init when
 * key was missing (another CPU may insert it first: its value is then the one returned). NULL
 * only when the map is full.
 */
#ifndef GADGETRY_MAPS_BPF_H
#define GADGETRY_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

#ifndef EEXIST
#define EEXIST 17
#endif

static __always_inline void *bpf_map_lookup_or_try_init(void *map, const void *key,
							 const void *init)
{
	void *v = bpf_map_lookup_elem(map, key);
	long err;

	if (v)
		return v;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return NULL;
	return bpf_map_lookup_elem(map, key);
}

#endif /* GADGETRY_MAPS_BPF_H */
