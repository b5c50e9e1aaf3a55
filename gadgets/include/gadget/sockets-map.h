/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket enrichment (the header name and API Inspektor Gadget's gadgets use): which process
 * holds the socket a packet or a kernel socket belongs to.
 *
 * The runtime fills the hash map gadget_sockets (Gadgetry: runtime/sockets), keyed by a
 * socket's network namespace, family, protocol and local port. A gadget looks a socket up with
 * gadget_socket_lookup():
 *
 *   #define GADGET_TYPE_NETWORKING      (socket filters, tc classifiers)
 *   #include <gadget/sockets-map.h>
 *   struct gadget_socket_value *v = gadget_socket_lookup(skb);
 *
 *   #define GADGET_TYPE_TRACING         (programs that have a struct sock *)
 *   #include <gadget/sockets-map.h>
 *   struct gadget_socket_value *v = gadget_socket_lookup(sk, netns_inode);
 *
 * Either may return NULL (a socket the runtime has not seen). A packet program finds its
 * network namespace in skb->cb[0], which the runtime's dispatcher writes before running it.
 *
 * The value is read through CO-RE relocations: its layout is the runtime's, and fields a
 * runtime may leave out must be checked with bpf_core_field_exists() (Gadgetry's runtime
 * provides every field below, the optional cwd and exepath in 512 bytes each).
 */
#ifndef GADGETRY_SOCKETS_MAP_H
#define GADGETRY_SOCKETS_MAP_H

#if !defined(__VMLINUX_H__) && !defined(_LINUX_TYPES_H)
#error "include <vmlinux.h> or <linux/types.h> before <gadget/sockets-map.h>"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <gadget/types.h>

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* The size IG gives the optional path fields. */
#define GADGET_SE_PATH_MAX 4096

/* What the runtime knows of a socket's owner. */
struct gadget_socket_value {
	__u64 mntns;     /* mount namespace inode */
	__u64 pid_tgid;  /* process id << 32 | thread id */
	__u64 uid_gid;   /* group id << 32 | user id */
	char task[TASK_COMM_LEN];
	char ptask[TASK_COMM_LEN]; /* the parent's command */
	__u64 sock;
	__u64 deletion_timestamp;
	__u32 ppid;
	__u32 ptid;
	char ipv6only;   /* an AF_INET6 socket that takes no IPv4 */
	/*
	 * Optional (a socket enricher may leave them out, IG's when configured so): check with
	 * bpf_core_field_exists() and size with bpf_core_field_size(), which give the runtime's
	 * size (Gadgetry's and IG's default: 512), not this declaration's.
	 */
	char cwd[GADGET_SE_PATH_MAX];
	char exepath[GADGET_SE_PATH_MAX];
} __attribute__((preserve_access_index));

/* A socket's identity in the map: the port in host order, proto 6 (TCP) or 17 (UDP). */
struct gadget_socket_key {
	__u32 netns;
	__u16 family;
	__u8 proto;
	__u16 port;
};

#define GADGET_MAX_SOCKETS 16384

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_MAX_SOCKETS);
	__type(key, struct gadget_socket_key);
	__type(value, struct gadget_socket_value);
} gadget_sockets SEC(".maps");

#define __GADGET_SK_AF_INET 2
#define __GADGET_SK_AF_INET6 10
#define __GADGET_SK_TCP 6
#define __GADGET_SK_UDP 17

/* A socket's key's family tried the other way: an IPv4 packet may belong to an IPv6 socket. */
static __always_inline struct gadget_socket_value *
__gadget_socket_find(struct gadget_socket_key *key)
{
	struct gadget_socket_value *v = bpf_map_lookup_elem(&gadget_sockets, key);

	if (v || key->family != __GADGET_SK_AF_INET)
		return v;
	key->family = __GADGET_SK_AF_INET6;
	v = bpf_map_lookup_elem(&gadget_sockets, key);
	if (v && !v->ipv6only)
		return v;
	return NULL;
}

#ifdef GADGET_TYPE_NETWORKING

/*
 * The socket of a packet that starts with an Ethernet header: for a packet coming in
 * (is_ingress) the local port is its destination, else its source. IPv6 extension headers
 * are not followed: such packets give NULL.
 */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup_with_direction(const struct __sk_buff *skb, __u8 is_ingress)
{
	struct gadget_socket_key key = {};
	__u16 eth_proto, port;
	__u32 l4;
	__u8 b;

	key.netns = skb->cb[0];
	if (bpf_skb_load_bytes(skb, 12, &eth_proto, sizeof(eth_proto)) < 0)
		return NULL;
	if (eth_proto == bpf_htons(0x0800)) { /* IPv4 */
		key.family = __GADGET_SK_AF_INET;
		if (bpf_skb_load_bytes(skb, 14, &b, 1) < 0) /* version and header length */
			return NULL;
		l4 = 14 + (b & 0xf) * 4;
		if (bpf_skb_load_bytes(skb, 14 + 9, &key.proto, 1) < 0)
			return NULL;
	} else if (eth_proto == bpf_htons(0x86DD)) { /* IPv6 */
		key.family = __GADGET_SK_AF_INET6;
		l4 = 14 + 40;
		if (bpf_skb_load_bytes(skb, 14 + 6, &key.proto, 1) < 0) /* next header */
			return NULL;
	} else {
		return NULL;
	}
	if (key.proto != __GADGET_SK_TCP && key.proto != __GADGET_SK_UDP)
		return NULL;
	/* TCP and UDP both start with the source port, then the destination port. */
	if (bpf_skb_load_bytes(skb, l4 + (is_ingress ? 2 : 0), &port, sizeof(port)) < 0)
		return NULL;
	key.port = bpf_ntohs(port);
	return __gadget_socket_find(&key);
}

/* The socket of a packet, its direction from skb->pkt_type (PACKET_HOST: coming in). In tc
 * programs pkt_type can mislead; use gadget_socket_lookup_with_direction() there. */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup(const struct __sk_buff *skb)
{
	return gadget_socket_lookup_with_direction(skb, skb->pkt_type == 0);
}

#endif /* GADGET_TYPE_NETWORKING */

#ifdef GADGET_TYPE_TRACING

/* The entry of a kernel socket, by its local port, in network namespace netns. */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup(const struct sock *sk, __u32 netns)
{
	struct gadget_socket_key key = {};
	__u16 sport = 0;

	key.netns = netns;
	key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	key.proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (key.proto != __GADGET_SK_TCP && key.proto != __GADGET_SK_UDP)
		return NULL;
	sport = BPF_CORE_READ((struct inet_sock *)sk, inet_sport); /* network order */
	key.port = bpf_ntohs(sport);
	return __gadget_socket_find(&key);
}

#endif /* GADGET_TYPE_TRACING */

/* Fills p from a socket's entry (nothing when v is NULL). */
static __always_inline void
gadget_process_populate_from_socket(const struct gadget_socket_value *v, struct gadget_process *p)
{
	if (!v)
		return;
	__builtin_memcpy(p->comm, v->task, sizeof(p->comm));
	p->pid = v->pid_tgid >> 32;
	p->tid = (__u32)v->pid_tgid;
	p->mntns_id = v->mntns;
	p->creds.uid = (__u32)v->uid_gid;
	p->creds.gid = v->uid_gid >> 32;
	__builtin_memcpy(p->parent.comm, v->ptask, sizeof(p->parent.comm));
	p->parent.pid = v->ppid;
	p->parent.tid = bpf_core_field_exists(v->ptid) ? v->ptid : 0;
}

#ifdef GADGETRY_FILTER_H
#include <gadget/skb_filter.h>
#endif

#endif /* GADGETRY_SOCKETS_MAP_H */
