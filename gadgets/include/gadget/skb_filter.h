/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gadget_should_discard_data_by_skb(v): <gadget/filter.h>'s filters applied to the owner of a
 * packet's socket, v from gadget_socket_lookup() (<gadget/sockets-map.h>). With no owner (v
 * NULL) the packet is discarded when any filter is set, kept otherwise. Both headers include
 * this one once the other is there too, so it needs no include of its own.
 */
#ifndef GADGETRY_SKB_FILTER_H
#define GADGETRY_SKB_FILTER_H

static __always_inline bool gadget_should_discard_data_by_skb(const struct gadget_socket_value *v)
{
	if (!v)
		return gadget_filter_by_mntns || targ_pid || targ_tid || targ_uid != GADGET_INVALID_ID ||
		       targ_gid != GADGET_INVALID_ID || targ_comm[0];
	return gadget_should_discard_data(v->mntns, v->pid_tgid >> 32, (__u32)v->pid_tgid,
					  v->task, (__u32)v->uid_gid, v->uid_gid >> 32);
}

#endif /* GADGETRY_SKB_FILTER_H */
