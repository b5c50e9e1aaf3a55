package decode

import (
	"math"
	"net/netip"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// Network endpoints, as Inspektor Gadget's gadgets record them (gadget-abi §3):
//
//	union gadget_ip_addr_t { __u8 v6[16]; unsigned __int128 v6_raw; __u32 v4; };
//	struct gadget_l3endpoint_t { union gadget_ip_addr_t addr_raw; __u8 version; };
//	struct gadget_l4endpoint_t { union gadget_ip_addr_t addr_raw; __u16 port; __u16 proto_raw; __u8 version; };
//
// A member `src` of type struct gadget_l4endpoint_t becomes the fields src.addr_raw (the 16
// address bytes, hidden), src.addr (the address as text: "10.0.0.1", "fd00::1"), src.port,
// src.proto_raw (hidden) with src.proto (its name: "TCP", "UDP"…) and src.version (4 or 6). An
// IPv4 address is in the first four bytes, in network order; version says which it is.

// IPAddrType is the Type of the 16-byte field holding a union gadget_ip_addr_t.
const IPAddrType = "gadget_ip_addr"

// Names of the BTF types with a meaning for endpoints.
const (
	ipAddrUnion = "gadget_ip_addr_t"
	l3Endpoint  = "gadget_l3endpoint_t"
	l4Endpoint  = "gadget_l4endpoint_t"
)

// ipProtocols names the IP protocol numbers an endpoint's proto_raw holds.
var ipProtocols = map[int64]string{
	1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPV6", 47: "GRE", 50: "ESP",
	51: "AH", 58: "ICMPV6", 132: "SCTP", 136: "UDPLITE", 255: "RAW", 262: "MPTCP",
}

// addIPAddr adds the 16 bytes of a union gadget_ip_addr_t as one field.
func addIPAddr(ds *datasource.DataSource, name string, off int, hidden bool) error {
	f, err := ds.AddStaticField(name, datasource.KindBytes, off, 16)
	if err != nil {
		return err
	}
	f.Type = IPAddrType
	f.Hidden = hidden
	f.Tags = append(f.Tags, "kernel")
	return nil
}

// addEndpoint adds the members of an l3 or l4 endpoint struct under prefix name and names the
// protocol numbers.
func addEndpoint(ds *datasource.DataSource, name string, st *btf.Struct, off int, hidden bool) error {
	if err := addMembers(ds, name+".", st, off, hidden); err != nil {
		return err
	}
	if f := ds.Field(name + ".proto_raw"); f != nil && f.Kind.Scalar() && f.Enum == nil {
		f.Enum = ipProtocols
	}
	return nil
}

// endpointPrio is the priority of the subscriber that writes endpoints' address text: before
// any other, so enrichment, filters, WASM guests and outputs all see it.
const endpointPrio = math.MinInt32 + 1

// watchEndpoints subscribes ds, when its records hold IP addresses, to write each address's
// text into its formatted sibling (foo_raw → foo) as records are emitted.
func watchEndpoints(ds *datasource.DataSource) {
	type addr struct {
		raw, text, version *datasource.Field
	}
	var addrs []addr
	for _, f := range ds.Fields() {
		if f.Type != IPAddrType || !f.Static() {
			continue
		}
		a := addr{raw: f, text: FormattedSibling(f)}
		if a.text == nil {
			continue
		}
		prefix := ""
		if i := strings.LastIndexByte(f.Name, '.'); i >= 0 {
			prefix = f.Name[:i+1]
		}
		a.version = ds.Field(prefix + "version")
		a.text.Type = IPAddrType
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return
	}
	ds.Subscribe(endpointPrio, func(ds *datasource.DataSource, d *datasource.Data) error {
		for _, a := range addrs {
			version := 0
			if a.version != nil {
				version = int(a.version.Uint(d))
			}
			_ = a.text.SetString(d, IPAddrString(a.raw.Bytes(d), version))
		}
		return nil
	})
}

// IPAddrString is the text of the 16 bytes of a union gadget_ip_addr_t: with version 4 the
// first four bytes are an IPv4 address, with version 6 all sixteen are an IPv6 address; any
// other version gives "" (an unset endpoint).
func IPAddrString(b []byte, version int) string {
	switch {
	case version == 4 && len(b) >= 4:
		return netip.AddrFrom4([4]byte(b[:4])).String()
	case version == 6 && len(b) >= 16:
		return netip.AddrFrom16([16]byte(b[:16])).String()
	}
	return ""
}
