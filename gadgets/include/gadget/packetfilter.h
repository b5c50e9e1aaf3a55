/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet filters (the header name and API of Inspektor Gadget's gadgets):
 *
 *   GADGET_PF(name);                                       declares filter `name` (or none)
 *   gadget_pf_matches(skb, data, data_end)                 the unnamed filter
 *   gadget_pf_matches(name, skb, data, data_end)           a named one
 *
 * A filter is a function kept out of line, which a runtime may replace with a filter
 * expression compiled to eBPF (IG does, from tcpdump syntax). Gadgetry does not rewrite it:
 * here a filter matches every non-empty packet.
 */
#ifndef GADGETRY_PACKETFILTER_H
#define GADGETRY_PACKETFILTER_H

#include <gadget/types.h>

#define GADGET_PF(name)                                                                   \
	static __attribute__((noinline)) bool gadget_pf_##name(void *skb, void *data, \
								 void *data_end)      \
	{                                                                                 \
		return skb && data != data_end;                                           \
	}

#define __GADGET_PF_PICK(_1, _2, _3, _4, name, ...) name
#define __gadget_pf_matches3(skb, data, data_end) gadget_pf_(skb, data, data_end)
#define __gadget_pf_matches4(name, skb, data, data_end) gadget_pf_##name(skb, data, data_end)
#define gadget_pf_matches(...)                                                           \
	__GADGET_PF_PICK(__VA_ARGS__, __gadget_pf_matches4, __gadget_pf_matches3, , )(__VA_ARGS__)

#endif /* GADGETRY_PACKETFILTER_H */
