package decode_test

import (
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
)

// endpointTypes builds the BTF of IG's endpoint types as a gadget's object carries them.
func endpointTypes() (l3, l4 *btf.Struct) {
	u8 := &btf.Int{Name: "unsigned char", Size: 1}
	u16 := &btf.Int{Name: "unsigned short", Size: 2}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u128 := &btf.Int{Name: "unsigned __int128", Size: 16}
	addr := &btf.Union{Name: "gadget_ip_addr_t", Size: 16, Members: []btf.Member{
		{Name: "v6", Type: &btf.Array{Type: u8, Index: u32, Nelems: 16}},
		{Name: "v6_raw", Type: u128},
		{Name: "v4", Type: u32},
	}}
	l3 = &btf.Struct{Name: "gadget_l3endpoint_t", Size: 20, Members: []btf.Member{
		{Name: "addr_raw", Type: addr},
		{Name: "version", Type: u8, Offset: 128},
	}}
	l4 = &btf.Struct{Name: "gadget_l4endpoint_t", Size: 24, Members: []btf.Member{
		{Name: "addr_raw", Type: addr},
		{Name: "port", Type: u16, Offset: 128},
		{Name: "proto_raw", Type: u16, Offset: 144},
		{Name: "version", Type: u8, Offset: 160},
	}}
	return l3, l4
}

// TestEndpoints: a struct gadget_l4endpoint_t member decodes to addr (text), port, proto (a
// name) and version, for IPv4 and IPv6, in a tracer's records and in a map iterator's key.
func TestEndpoints(t *testing.T) {
	l3, l4 := endpointTypes()
	st := &btf.Struct{Name: "event", Size: 68, Members: []btf.Member{
		{Name: "src", Type: l4},
		{Name: "dst", Type: l4, Offset: 24 * 8},
		{Name: "peer", Type: l3, Offset: 48 * 8},
	}}
	ds, err := decode.DataSource("ev", st)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"src.addr_raw", "src.proto_raw"} {
		if f := ds.Field(name); f == nil || !f.Hidden {
			t.Errorf("%s: %+v, want a hidden field", name, f)
		}
	}
	for name, kind := range map[string]datasource.Kind{"src.addr": datasource.KindString, "src.port": datasource.KindUint16,
		"src.proto": datasource.KindString, "src.version": datasource.KindUint8, "peer.addr": datasource.KindString} {
		if f := ds.Field(name); f == nil || f.Kind != kind || f.Hidden {
			t.Errorf("%s: %+v, want a shown %s field", name, f, kind)
		}
	}
	d := ds.NewData()
	// src: 10.1.2.3:8080 TCP; dst: [fd00::1]:53 UDP; peer: nothing (version 0).
	copy(d.Raw[0:], []byte{10, 1, 2, 3})
	d.Raw[16], d.Raw[17] = 0x90, 0x1f // 8080, host order (little endian)
	d.Raw[18] = 6
	d.Raw[20] = 4
	copy(d.Raw[24:], []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	d.Raw[40] = 53
	d.Raw[42] = 17
	d.Raw[44] = 6
	if _, err := ds.Emit(d); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, name := range []string{"src.addr", "dst.addr", "peer.addr"} {
		got[name] = ds.Field(name).String(d)
	}
	got["src.port"] = ds.Field("src.port").Uint(d)
	got["dst.port"] = ds.Field("dst.port").Uint(d)
	want := map[string]any{"src.addr": "10.1.2.3", "dst.addr": "fd00::1", "peer.addr": "", "src.port": uint64(8080), "dst.port": uint64(53)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if p := ds.Field("src.proto_raw"); p.Enum[int64(p.Uint(d))] != "TCP" {
		t.Errorf("src.proto_raw %d names %q, want TCP", p.Uint(d), p.Enum[int64(p.Uint(d))])
	}
	if p := ds.Field("dst.proto_raw"); p.Enum[int64(p.Uint(d))] != "UDP" {
		t.Errorf("dst.proto_raw names %q, want UDP", p.Enum[int64(p.Uint(d))])
	}

	// A map key holding endpoints (top_tcp's shape): flattened, decoded the same way.
	key := &btf.Struct{Name: "ip_key_t", Size: 48, Members: []btf.Member{
		{Name: "src", Type: l4}, {Name: "dst", Type: l4, Offset: 24 * 8}}}
	kv, err := decode.KeyValue("tcp", key, &btf.Int{Name: "unsigned long long", Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	kd := kv.NewData()
	copy(kd.Raw[0:], []byte{127, 0, 0, 1})
	kd.Raw[20] = 4
	if _, err := kv.EmitArray([]*datasource.Data{kd}); err != nil {
		t.Fatal(err)
	}
	if got := kv.Field("src.addr").String(kd); got != "127.0.0.1" {
		t.Errorf("map key src.addr = %q, want 127.0.0.1", got)
	}
}

func TestIPAddrString(t *testing.T) {
	b := make([]byte, 16)
	copy(b, []byte{192, 168, 0, 1})
	for _, tc := range []struct {
		version int
		want    string
	}{{4, "192.168.0.1"}, {6, "c0a8:1::"}, {0, ""}, {5, ""}} {
		if got := decode.IPAddrString(b, tc.version); got != tc.want {
			t.Errorf("version %d: %q, want %q", tc.version, got, tc.want)
		}
	}
}
