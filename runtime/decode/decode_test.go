package decode_test

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
)

func TestDataSourceFromBTF(t *testing.T) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u16 := &btf.Int{Name: "unsigned short", Size: 2}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	boolean := &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	pidT := &btf.Typedef{Name: "gadget_pid", Type: u32}
	tsT := &btf.Typedef{Name: "gadget_timestamp", Type: u64}
	errnoT := &btf.Typedef{Name: "gadget_errno", Type: u32}
	parent := &btf.Struct{Name: "parent", Size: 20, Members: []btf.Member{
		{Name: "comm", Type: &btf.Array{Type: char, Index: u32, Nelems: 16}},
		{Name: "pid", Type: pidT, Offset: 128},
	}}
	kind := &btf.Enum{Name: "kind", Size: 4, Values: []btf.EnumValue{{Name: "A", Value: 0}, {Name: "B", Value: 1}}}
	st := &btf.Struct{Name: "event", Size: 64, Members: []btf.Member{
		{Name: "ts_raw", Type: tsT, Offset: 0},
		{Name: "parent", Type: parent, Offset: 64},
		{Name: "err_raw", Type: &btf.Volatile{Type: errnoT}, Offset: 224},
		{Name: "kind", Type: kind, Offset: 256},
		{Name: "ok", Type: boolean, Offset: 288},
		{Name: "ports", Type: &btf.Array{Type: u16, Index: u32, Nelems: 2}, Offset: 296},
		{Name: "__pad", Type: u32, Offset: 328},
		{Name: "__priv", Type: &btf.Struct{Name: "priv", Size: 4, Members: []btf.Member{{Name: "err_raw", Type: errnoT}}}, Offset: 352},
	}}
	ds, err := decode.DataSource("ev", st)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name   string
		kind   datasource.Kind
		typ    string
		off    int
		hidden bool
	}{
		{"ts_raw", datasource.KindUint64, "gadget_timestamp", 0, true},
		{"parent.comm", datasource.KindCString, "", 8, false},
		{"parent.pid", datasource.KindUint32, "gadget_pid", 24, false},
		{"err_raw", datasource.KindUint32, "gadget_errno", 28, true},
		{"kind", datasource.KindUint32, "enum kind", 32, false},
		{"ok", datasource.KindBool, "", 36, false},
		{"ports", datasource.KindBytes, "", 37, false},
		{"__pad", datasource.KindUint32, "", 41, true},
		{"__priv.err_raw", datasource.KindUint32, "gadget_errno", 44, true},
		// made from a raw field in a "__" struct: hidden too, as IG leaves "__" members out
		{"__priv.err", datasource.KindString, "gadget_errno", -1, true},
	}
	for _, w := range want {
		f := ds.Field(w.name)
		if f == nil {
			t.Errorf("no field %s", w.name)
			continue
		}
		if f.Kind != w.kind || f.Type != w.typ || (w.off >= 0 && f.Offset() != w.off) || f.Hidden != w.hidden {
			t.Errorf("%s: kind %s type %q off %d hidden %v; want %s %q %d %v", w.name, f.Kind, f.Type, f.Offset(), f.Hidden, w.kind, w.typ, w.off, w.hidden)
		}
	}
	if f := ds.Field("kind"); f.Enum[1] != "B" {
		t.Errorf("enum names %v", f.Enum)
	}
	if f := ds.Field("ports"); f.Annotations[decode.ArrayAnnotation] != "uint16" {
		t.Errorf("array annotation %v", f.Annotations)
	}
	for _, sib := range []string{"ts", "err"} {
		f := ds.Field(sib)
		if f == nil || f.Static() || decode.RawSource(f) != ds.Field(sib+"_raw") {
			t.Errorf("formatted sibling %s of %s_raw missing", sib, sib)
		}
		if decode.FormattedSibling(ds.Field(sib+"_raw")) != f {
			t.Errorf("FormattedSibling(%s_raw) is not %s", sib, sib)
		}
	}
	for _, other := range []string{"kind", "parent.pid", "ts"} {
		if s := decode.FormattedSibling(ds.Field(other)); s != nil {
			t.Errorf("FormattedSibling(%s) = %s, want none", other, s.Name)
		}
	}
}

func TestKeyValue(t *testing.T) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	key := &btf.Struct{Name: "key", Size: 20, Members: []btf.Member{
		{Name: "pid", Type: &btf.Typedef{Name: "gadget_pid", Type: u32}},
		{Name: "comm", Type: &btf.Array{Type: char, Index: u32, Nelems: 16}, Offset: 32},
	}}
	value := &btf.Struct{Name: "value", Size: 16, Members: []btf.Member{
		{Name: "calls", Type: u64},
		{Name: "last_raw", Type: &btf.Typedef{Name: "gadget_timestamp", Type: u64}, Offset: 64},
	}}
	ds, err := decode.KeyValue("calls", key, value)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Type != datasource.TypeArray || ds.RecordSize() != 36 {
		t.Fatalf("type %d, record size %d; want an array of 36-byte records", ds.Type, ds.RecordSize())
	}
	for _, w := range []struct {
		name string
		off  int
	}{{"pid", 0}, {"comm", 4}, {"calls", 20}, {"last_raw", 28}} {
		if f := ds.Field(w.name); f == nil || f.Offset() != w.off {
			t.Errorf("field %s: %+v, want offset %d", w.name, f, w.off)
		}
	}
	if f := ds.Field("last"); f == nil || decode.RawSource(f) == nil {
		t.Error("last_raw has no formatted sibling last")
	}

	// Scalar key and value: one field each.
	ds, err = decode.KeyValue("m", u32, u64)
	if err != nil {
		t.Fatal(err)
	}
	if k, v := ds.Field("key"), ds.Field("value"); k == nil || v == nil || v.Offset() != 4 {
		t.Errorf("scalar key/value fields: %+v %+v", k, v)
	}

	// A member name in both the key and the value cannot be flattened.
	clash := &btf.Struct{Name: "clash", Size: 8, Members: []btf.Member{{Name: "pid", Type: u64}}}
	if _, err := decode.KeyValue("m", key, clash); err == nil || !strings.Contains(err.Error(), `"pid" already exists`) {
		t.Errorf("clash: %v", err)
	}
}
