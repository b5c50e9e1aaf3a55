/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network endpoints (gadget-abi §3): the runtime shows a struct gadget_l4endpoint_t member
 * `dst` as dst.addr ("10.0.0.1", "fd00::1"), dst.port, dst.proto ("TCP") and dst.version.
 */
#ifndef GADGETRY_ENDPOINT_H
#define GADGETRY_ENDPOINT_H

/* An IP address: IPv6 in all 16 bytes, or IPv4 in the first 4 (network order). */
union gadget_ip_addr_t {
	__u8 v6[16];
	unsigned __int128 v6_raw;
	__u32 v4;
};

/* A layer 3 endpoint: shown as its address. */
struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u8 version; /* 4 or 6; 0: none */
};

/* A layer 4 endpoint: shown as address, port and protocol. */
struct gadget_l4endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u16 port;	 /* host byte order */
	__u16 proto_raw; /* IPPROTO_TCP, IPPROTO_UDP... */
	__u8 version;	 /* 4 or 6; 0: none */
};

#endif /* GADGETRY_ENDPOINT_H */
