// SPDX-License-Identifier: Apache-2.0
/*
 * A packet gadget written on <linux/...> headers rather than vmlinux.h, as Inspektor Gadget's
 * trace_dns and trace_sni are: bool from <gadget/types.h>, the socket enricher's lookup and
 * gadget_should_discard_data_by_skb(), and its optional cwd/exepath fields checked with
 * bpf_core_field_exists() and sized with bpf_core_field_size().
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/types.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GADGET_TYPE_NETWORKING
#include <gadget/sockets-map.h>

#include <gadget/buffer.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define IGN_PATH 64

struct event {
	struct gadget_process proc;
	__u32 cwd_len;
	bool has_paths;
	char cwd[IGN_PATH];
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(net, events, event);

SEC("socket1")
int ign_socket(struct __sk_buff *skb)
{
	struct gadget_socket_value *v = gadget_socket_lookup(skb);
	struct event *e;

	if (gadget_should_discard_data_by_skb(v))
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	gadget_process_populate_from_socket(v, &e->proc);
	e->has_paths = v && bpf_core_field_exists(v->cwd) && bpf_core_field_exists(v->exepath);
	if (e->has_paths) {
		/* Sized only where it exists: elsewhere the relocation marks the code dead. */
		e->cwd_len = bpf_core_field_size(v->cwd);
		bpf_probe_read_kernel_str(e->cwd, sizeof(e->cwd), v->cwd);
	}
	gadget_submit_buf(skb, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
