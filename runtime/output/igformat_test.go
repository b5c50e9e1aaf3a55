package output_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
	"github.com/gadgetry/gadgetry/runtime/syscalls"
)

// TestIGTypedefSiblings: the foo made from a foo_raw of each gadget_* typedef is the text
// Inspektor Gadget's formatters give (the values ig printed for the same record of an IG-style
// gadget, docs/compatibility.md), in JSON and in a table, and so is that of an enum foo_raw
// (UNKNOWN, the bits of a *_set enum, a tri-state's name); a gadget_uid/gadget_gid without
// annotation gets "user"/"group" beside it in its own object, or the longer name where that key
// is taken; a struct gadget_user_stack gets IG's addresses/buildid/symbols as ""; a timestamp
// has nine digits of nanoseconds.
func TestIGTypedefSiblings(t *testing.T) {
	if unix.O_DIRECT != 0o40000 {
		t.Skip("the open flags below are x86's")
	}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	typ := func(name string, t btf.Type) btf.Type { return &btf.Typedef{Name: name, Type: t} }
	var members []btf.Member
	off := uint32(0)
	add := func(name string, t btf.Type) {
		size, _ := btf.Sizeof(t)
		members = append(members, btf.Member{Name: name, Type: t, Offset: btf.Bits(off * 8)})
		off += uint32(size)
	}
	owner := &btf.Struct{Name: "owner", Size: 8, Members: []btf.Member{
		{Name: "owner_uid", Type: typ("gadget_uid", u32)},
		{Name: "owner_gid", Type: typ("gadget_gid", u32), Offset: 32},
	}}
	both := &btf.Struct{Name: "both", Size: 8, Members: []btf.Member{
		{Name: "uid", Type: typ("gadget_uid", u32)},
		{Name: "euid", Type: typ("gadget_uid", u32), Offset: 32},
	}}
	stack := &btf.Struct{Name: decode.UserStackStruct, Size: 8, Members: []btf.Member{
		{Name: "stack_id", Type: u32}, {Name: "inode", Type: u32, Offset: 32},
	}}
	add("timestamp_raw", typ("gadget_timestamp", u64)) // 0
	add("loginuid", typ("gadget_uid", u32))            // 8
	add("own", owner)                                  // 12
	add("ids", both)                                   // 20
	add("syscall_raw", typ("gadget_syscall", u64))     // 28
	add("other_syscall_raw", typ("gadget_syscall", u64))
	add("error_raw", typ("gadget_errno", u32)) // 44
	add("odd_error_raw", typ("gadget_errno", u32))
	add("sig_raw", typ("gadget_signal", u32)) // 52
	add("odd_sig_raw", typ("gadget_signal", u32))
	add("size_raw", typ("gadget_bytes", u64)) // 60
	add("small_raw", typ("gadget_bytes", u64))
	add("big_raw", typ("gadget_bytes", u64))
	add("lat_raw", typ("gadget_duration", u64)) // 84
	add("ulat_raw", typ("gadget_duration", u64))
	add("mlat_raw", typ("gadget_duration", u64))
	add("slat_raw", typ("gadget_duration", u64))
	add("mode_raw", typ("gadget_file_mode", u32)) // 116
	add("dmode_raw", typ("gadget_file_mode", u32))
	add("flags_raw", typ("gadget_file_flags", u32)) // 124
	add("oflags_raw", typ("gadget_file_flags", u32))
	add("ustack", stack)                            // 132
	add("nsup_error_raw", typ("gadget_errno", u32)) // 140
	add("ft_error_raw", typ("gadget_errno", u32))   // 144
	color := &btf.Enum{Name: "fp_color", Size: 4, Values: []btf.EnumValue{{Name: "RED", Value: 1}, {Name: "GREEN", Value: 2}, {Name: "BLUE", Value: 3}}}
	perms := &btf.Enum{Name: "fp_perm_set", Size: 4, Values: []btf.EnumValue{{Name: "P_NONE", Value: 0}, {Name: "P_READ", Value: 1},
		{Name: "P_WRITE", Value: 2}, {Name: "P_EXEC", Value: 4}, {Name: "P_ALL", Value: 7}}}
	state := &btf.Enum{Name: "fp_state", Size: 4, Values: []btf.EnumValue{{Name: "FP_UNKNOWN", Value: 0}, {Name: "FP_NO", Value: 1}, {Name: "FP_YES", Value: 2}}}
	add("color_raw", color)     // 148
	add("odd_color_raw", color) // 152
	add("perms_raw", perms)     // 156
	add("st_raw", state)        // 160
	ds, err := decode.DataSource("ev", &btf.Struct{Name: "event", Size: off, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	d := ds.NewData()
	le := binary.LittleEndian
	le.PutUint64(d.Raw[0:], 5_000_000_000)
	le.PutUint32(d.Raw[8:], 3999999999) // an id without a name
	le.PutUint32(d.Raw[12:], 0)
	le.PutUint32(d.Raw[16:], 0)
	le.PutUint32(d.Raw[20:], 0)
	le.PutUint32(d.Raw[24:], 0)
	le.PutUint64(d.Raw[28:], 257) // openat on x86
	le.PutUint64(d.Raw[36:], 9999)
	le.PutUint32(d.Raw[44:], 2)
	le.PutUint32(d.Raw[48:], 600)
	le.PutUint32(d.Raw[52:], 9)
	le.PutUint32(d.Raw[56:], 77)
	le.PutUint64(d.Raw[60:], 123456789)
	le.PutUint64(d.Raw[68:], 7)
	le.PutUint64(d.Raw[76:], 1500)
	le.PutUint64(d.Raw[84:], 512)
	le.PutUint64(d.Raw[92:], 12345)
	le.PutUint64(d.Raw[100:], 12345678)
	le.PutUint64(d.Raw[108:], 2500000000)
	le.PutUint32(d.Raw[116:], 0o100644|0o4000)
	le.PutUint32(d.Raw[120:], 0o40755)
	le.PutUint32(d.Raw[124:], 0o1|0o100|0o20000|0o100000|0o2000000)
	le.PutUint32(d.Raw[128:], 0o10000000|0o4010000)
	le.PutUint32(d.Raw[140:], 95)  // EOPNOTSUPP in C, ENOTSUP in Go's table and ig
	le.PutUint32(d.Raw[144:], 134) // not Linux's; newer Go tables call it EFTYPE
	le.PutUint32(d.Raw[148:], 2)
	le.PutUint32(d.Raw[152:], 9)
	le.PutUint32(d.Raw[156:], 1|4)
	le.PutUint32(d.Raw[160:], 2)

	fm := format.New()
	sysName := "SYS_UNKNOWN"
	if tab, err := syscalls.Running(); err == nil {
		if n, ok := tab.Name(257); ok {
			sysName = "SYS_" + strings.ToUpper(n)
		}
	}
	var buf bytes.Buffer
	w := output.New(&buf, output.JSON, output.DefaultFields(ds, output.JSON), fm)
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	wall := fm.BootToWall(5_000_000_000)
	want := map[string]any{
		"timestamp":     wall.Format(format.TimestampLayout),
		"user":          "uid:3999999999", // loginuid without uidgidresolver.target
		"own":           map[string]any{"user": "root", "group": "root"},
		"ids":           map[string]any{"user": "root", "euser": "root"}, // user taken: the longer name
		"syscall":       sysName,
		"other_syscall": "SYS_UNKNOWN",
		"error":         "ENOENT",
		"odd_error":     "error#600",
		"nsup_error":    "ENOTSUP",
		"ft_error":      "error#134",
		"color":         "GREEN",
		"odd_color":     "UNKNOWN",
		"perms":         "P_NONE|P_READ|P_EXEC", // a *_set enum: its bits (0 always)
		"st":            "FP_YES",               // a tri-state's name, not JSON's true
		"sig":           "SIGKILL",
		"odd_sig":       "signal#77",
		"size":          "124 MB",
		"small":         "7 B",
		"big":           "1.5 kB",
		"lat":           "512ns",
		"ulat":          "12.35µs",
		"mlat":          "12.35ms",
		"slat":          "2.5s",
		"mode":          "-rw-r--r--",
		"dmode":         "-rwxr-xr-x",
		"flags":         "O_WRONLY|O_CREAT|O_FASYNC|O_LARGEFILE|O_CLOEXEC",
		"oflags":        "O_RDONLY|O_DSYNC",
		"ustack":        map[string]any{"addresses": "", "buildid": "", "symbols": ""},
	}
	for k, v := range want {
		g := got[k]
		if m, ok := v.(map[string]any); ok {
			gm, _ := g.(map[string]any)
			sub := map[string]any{}
			for kk := range m {
				sub[kk] = gm[kk]
			}
			g = sub
		}
		if !reflect.DeepEqual(g, v) {
			t.Errorf("%s: %#v, want %#v", k, g, v)
		}
	}
	if !strings.Contains(buf.String(), `"timestamp":"`+wall.Format(format.TimestampLayout)+`"`) {
		t.Errorf("timestamp: %s", buf.String())
	}
	for _, k := range []string{"loginuser", "owner_user"} {
		if strings.Contains(buf.String(), `"`+k+`"`) {
			t.Errorf("%s in %s", k, buf.String())
		}
	}

	table := columnsOf(t, ds, fm, d)
	for _, s := range []string{"SYS_UNKNOWN", "error#600", "124 MB", "12.35ms", "O_RDONLY|O_DSYNC"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
	if strings.Contains(table, "ADDRESSES") {
		t.Errorf("table shows the stack's text fields:\n%s", table)
	}
}

// TestTimestampNineDigits: JSON keeps the trailing zeros of a timestamp's nanoseconds.
func TestTimestampNineDigits(t *testing.T) {
	ds, d := igSample(t)
	fm := format.New()
	// A record time whose wall-clock nanoseconds end in "000".
	ns := uint64(5_000_000_000 - fm.BootToWall(5_000_000_000).Nanosecond()%1000 + 1000)
	binary.LittleEndian.PutUint64(d.Raw[0:], ns)
	fields, err := output.Select(ds, output.JSON, "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := output.New(&buf, output.JSON, fields, fm)
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	wall := fm.BootToWall(ns)
	if wall.Nanosecond()%1000 != 0 {
		t.Fatalf("test time %v", wall)
	}
	want := `{"timestamp":"` + wall.Format("2006-01-02T15:04:05") + "." + fmt.Sprintf("%09d", wall.Nanosecond()) + wall.Format("Z07:00") + `"}` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("timestamp %s, want %s", got, want)
	}
}

// TestEnumNameAnnotation: an enum field annotated ebpf.formatter.enum (decode.AddEnumNames)
// gets the string field it names, with the enumerator's name as ig gives it, and is a number
// in JSON as in ig, except a tri-state, which stays true/false/null; the name field is left
// out of tables, where the enum field shows the name. An enum without the annotation keeps
// its name in place.
func TestEnumNameAnnotation(t *testing.T) {
	color := &btf.Enum{Name: "en_color", Size: 4, Values: []btf.EnumValue{{Name: "RED", Value: 1}, {Name: "GREEN", Value: 2}}}
	state := &btf.Enum{Name: "en_state", Size: 4, Values: []btf.EnumValue{{Name: "EN_UNKNOWN", Value: 0}, {Name: "EN_NO", Value: 1}, {Name: "EN_YES", Value: 2}}}
	ds, err := decode.DataSource("ev", &btf.Struct{Name: "event", Size: 16, Members: []btf.Member{
		{Name: "color", Type: color}, {Name: "odd", Type: color, Offset: 32},
		{Name: "st", Type: state, Offset: 64}, {Name: "bare", Type: color, Offset: 96},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for f, target := range map[string]string{"color": "color_name", "odd": "odd_name", "st": "st_name"} {
		ds.Field(f).Annotations[decode.EnumNameAnnotation] = target
	}
	if err := decode.AddEnumNames(ds); err != nil {
		t.Fatal(err)
	}
	d := ds.NewData()
	for i, v := range []uint32{2, 9, 2, 2} {
		binary.LittleEndian.PutUint32(d.Raw[4*i:], v)
	}
	fm := format.New()
	var buf bytes.Buffer
	w := output.New(&buf, output.JSON, output.DefaultFields(ds, output.JSON), fm)
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	const want = `{"color":2,"odd":9,"st":true,"bare":"GREEN","color_name":"GREEN","odd_name":"UNKNOWN","st_name":"EN_YES"}` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("JSON\n%s want\n%s", got, want)
	}
	table := columnsOf(t, ds, fm, d)
	if strings.Contains(table, "_NAME") || !strings.Contains(table, "GREEN") || strings.Count(table, "GREEN") != 2 {
		t.Errorf("table: want the names in the enum columns and no name columns:\n%s", table)
	}
}

// columnsOf is d as a table with ds's default columns: the header and one row.
func columnsOf(t *testing.T, ds *datasource.DataSource, fm *format.Formatter, d *datasource.Data) string {
	t.Helper()
	var buf bytes.Buffer
	w := output.New(&buf, output.Columns, output.DefaultFields(ds, output.Columns), fm)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.String()
}
