package output_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// igSample decodes a record shaped as Inspektor Gadget's gadgets write them: a timestamp, an
// errno and a user id each as foo_raw, a gadget_uid with IG's uidgidresolver.target
// annotation, and an l4 endpoint.
func igSample(t *testing.T) (*datasource.DataSource, *datasource.Data) {
	t.Helper()
	u8 := &btf.Int{Name: "unsigned char", Size: 1}
	u16 := &btf.Int{Name: "unsigned short", Size: 2}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	addr := &btf.Union{Name: "gadget_ip_addr_t", Size: 16, Members: []btf.Member{
		{Name: "v6", Type: &btf.Array{Type: u8, Index: u32, Nelems: 16}},
		{Name: "v4", Type: u32},
	}}
	l4 := &btf.Struct{Name: "gadget_l4endpoint_t", Size: 24, Members: []btf.Member{
		{Name: "addr_raw", Type: addr},
		{Name: "port", Type: u16, Offset: 128},
		{Name: "proto_raw", Type: u16, Offset: 144},
		{Name: "version", Type: u8, Offset: 160},
	}}
	typ := func(name string, t btf.Type) btf.Type { return &btf.Typedef{Name: name, Type: t} }
	st := &btf.Struct{Name: "event", Size: 48, Members: []btf.Member{
		{Name: "timestamp_raw", Type: typ("gadget_timestamp", u64), Offset: 0},
		{Name: "error_raw", Type: typ("gadget_errno", u32), Offset: 64},
		{Name: "user_raw", Type: typ("gadget_uid", u32), Offset: 96},
		{Name: "loginuid", Type: typ("gadget_uid", u32), Offset: 128},
		{Name: "dst", Type: l4, Offset: 192},
	}}
	ds, err := decode.DataSource("ev", st)
	if err != nil {
		t.Fatal(err)
	}
	ds.Field("loginuid").Annotations[format.UIDGIDTargetAnnotation] = "loginuser"
	d := ds.NewData()
	binary.LittleEndian.PutUint64(d.Raw[0:], 5_000_000_000) // 5 s after boot
	binary.LittleEndian.PutUint32(d.Raw[8:], 13)            // EACCES
	binary.LittleEndian.PutUint32(d.Raw[12:], 0)            // root
	binary.LittleEndian.PutUint32(d.Raw[16:], 4294967295)   // no name
	copy(d.Raw[24:], []byte{10, 1, 2, 3})
	d.Raw[40], d.Raw[41] = 0x50, 0 // port 80
	d.Raw[42] = 6                  // TCP
	d.Raw[44] = 4
	if _, err := ds.Emit(d); err != nil { // the endpoint's addr text
		t.Fatal(err)
	}
	return ds, d
}

// TestIGRawFields: JSON has each foo_raw beside its foo as Inspektor Gadget's JSON does (the
// number; a timestamp's as wall-clock nanoseconds since the epoch), the foo of a gadget_uid
// foo_raw is the user name, an id without a name is "uid:N", uidgidresolver.target names the
// name's key; an endpoint's address bytes stay out, and so do the raw fields from a table.
func TestIGRawFields(t *testing.T) {
	ds, d := igSample(t)
	fm := format.New()
	write := func(mode output.Mode) string {
		var buf bytes.Buffer
		w := output.New(&buf, mode, output.DefaultFields(ds, mode), fm)
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		return buf.String()
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(write(output.JSON)))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	wall := fm.BootToWall(5_000_000_000)
	want := map[string]any{
		"timestamp_raw": json.Number(strings.TrimSpace(string(mustJSON(t, wall.UnixNano())))),
		"timestamp":     wall.Format(format.TimestampLayout),
		"error_raw":     json.Number("13"),
		"error":         "EACCES",
		"user_raw":      json.Number("0"),
		"user":          "root",
		"loginuid":      json.Number("4294967295"),
		"loginuser":     "uid:4294967295",
		"dst": map[string]any{"addr": "10.1.2.3", "port": json.Number("80"), "proto_raw": json.Number("6"),
			"proto": "TCP", "version": json.Number("4")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("json:\n%v\nwant\n%v", got, want)
	}
	header := strings.Fields(strings.SplitN(write(output.Columns), "\n", 2)[0])
	for _, h := range header {
		if strings.HasSuffix(h, "_RAW") {
			t.Errorf("table header %v has a raw field", header)
		}
	}
}

// TestUnsetZeroAndAlias: an added field marked value.unset=zero shows its kind's zero value
// in JSON when a record does not set it ("", 0, false: the container fields of a host event),
// its value when set; columns.alias heads its column.
func TestUnsetZeroAndAlias(t *testing.T) {
	ds := datasource.New("ev", datasource.TypeSingle, 0)
	add := func(name string, kind datasource.Kind) *datasource.Field {
		f, err := ds.AddField(name, kind)
		if err != nil {
			t.Fatal(err)
		}
		f.Annotations[format.UnsetAnnotation] = "zero"
		return f
	}
	name := add("runtime.containerName", datasource.KindString)
	name.Annotations[output.AliasAnnotation] = "container"
	pid := add("runtime.containerPid", datasource.KindUint32)
	add("k8s.hostnetwork", datasource.KindBool)
	other, _ := ds.AddField("other", datasource.KindString)
	d := ds.NewData()
	if got, want := writeOne(t, ds, d, output.JSON, ""), `{"runtime":{"containerName":"","containerPid":0},"k8s":{"hostnetwork":false},"other":null}`+"\n"; got != want {
		t.Errorf("unset:\n%s\nwant\n%s", got, want)
	}
	_ = name.SetString(d, "web")
	_ = pid.SetUint(d, 42)
	_ = other.SetString(d, "x")
	if got, want := writeOne(t, ds, d, output.JSON, ""), `{"runtime":{"containerName":"web","containerPid":42},"k8s":{"hostnetwork":false},"other":"x"}`+"\n"; got != want {
		t.Errorf("set:\n%s\nwant\n%s", got, want)
	}
	if got := writeOne(t, ds, d, output.Columns, "runtime.containerName,other"); !strings.HasPrefix(got, "CONTAINER ") {
		t.Errorf("columns header: %q", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
