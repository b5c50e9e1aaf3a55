/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket enrichment written the way Inspektor Gadget's gadgets use it (<gadget/sockets-map.h>):
 * for each packet (socket filter) or new TCP connection (tracepoint) on the port gtest_port, the
 * process the runtime's socket enricher says holds the local socket, with the network namespace
 * the program was given.
 *
 * Default: a socket filter (GADGET_TYPE_NETWORKING), skb->cb[0] as the namespace.
 * -DGTEST_TRACING: tracepoint sock/inet_sock_set_state (GADGET_TYPE_TRACING), a connection
 * accepted on gtest_port looked up by its struct sock.
 * -DGTEST_TC: a tc classifier on ingress instead of the socket filter
 * (gadget_socket_lookup_with_direction).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/buffer.h>
#ifdef GTEST_TRACING
#define GADGET_TYPE_TRACING
#else
#define GADGET_TYPE_NETWORKING
#endif
#include <gadget/sockets-map.h>

const volatile __u16 gtest_port = 0;
GADGET_PARAM(gtest_port);

struct gtest_sock_event {
	gadget_netns_id netns_id;
	__u32 found;
	struct gadget_process proc;
	__u32 paths; /* the optional cwd's size where the runtime has it */
	char cwd[64];
};

GADGET_TRACER_MAP(gtest_sock_events, 16384);
GADGET_TRACER(gtest_socks, gtest_sock_events, gtest_sock_event);

static __always_inline void emit(void *ctx, __u32 netns, struct gadget_socket_value *v)
{
	struct gtest_sock_event *e = gadget_reserve_buf(&gtest_sock_events, sizeof(*e));

	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->netns_id = netns;
	e->found = v != NULL;
	gadget_process_populate_from_socket(v, &e->proc);
#ifndef GTEST_NO_PATHS /* a gadget that never reads the optional paths */
	if (v && bpf_core_field_exists(v->cwd)) {
		e->paths = bpf_core_field_size(v->cwd);
		bpf_probe_read_kernel_str(e->cwd, sizeof(e->cwd), v->cwd);
	}
#endif
	gadget_submit_buf(ctx, &gtest_sock_events, e, sizeof(*e));
}

#ifdef GTEST_TRACING
SEC("tracepoint/sock/inet_sock_set_state")
int gtest_ig_sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	const struct sock *sk = ctx->skaddr;
	__u32 netns;

	if (ctx->newstate != 1 /* TCP_ESTABLISHED */ || ctx->sport != gtest_port)
		return 0;
	netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	emit(ctx, netns, gadget_socket_lookup(sk, netns));
	return 0;
}
#else
/* Packets to gtest_port (IPv4, UDP) coming in; the lookup takes its own path. */
static __always_inline int to_port(struct __sk_buff *skb)
{
	__u16 dport;
	__u8 b;
	__u32 l4;

	if (bpf_skb_load_bytes(skb, 14, &b, 1) < 0 || (b >> 4) != 4)
		return 0;
	l4 = 14 + (b & 0xf) * 4;
	return bpf_skb_load_bytes(skb, l4 + 2, &dport, sizeof(dport)) == 0 &&
	       bpf_ntohs(dport) == gtest_port;
}

#ifdef GTEST_TC
SEC("classifier/ingress/gtest_sock")
int gtest_ig_sock_tc(struct __sk_buff *skb)
{
	if (to_port(skb))
		emit(skb, skb->cb[0], gadget_socket_lookup_with_direction(skb, 1));
	return -1; /* TC_ACT_UNSPEC */
}
#else
SEC("socket1")
int gtest_ig_sock_packet(struct __sk_buff *skb)
{
	if (skb->pkt_type == 0 && to_port(skb))
		emit(skb, skb->cb[0], gadget_socket_lookup(skb));
	return 0;
}
#endif
#endif

char LICENSE[] SEC("license") = "GPL";
