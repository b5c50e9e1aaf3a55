package filter_test

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/filter"
	"github.com/gadgetry/gadgetry/runtime/format"
)

// execSample decodes a record of trace_exec's shape from BTF: proc.comm, proc.pid, proc.uid
// (gadget_uid), a YES/NO/UNKNOWN enum, an errno kept as error_raw with its formatted sibling
// error, a bool, a signed number and a plain enum. The record holds comm "bash", pid 42, uid 0,
// upper_layer YES, error ENOENT, fileless true, delta -5 and color GREEN.
func execSample(t testing.TB) (*datasource.DataSource, *datasource.Data) {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	s32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	state := &btf.Enum{Name: "upper_layer_state", Size: 4, Values: []btf.EnumValue{
		{Name: "UNKNOWN", Value: 0}, {Name: "NO", Value: 1}, {Name: "YES", Value: 2}}}
	color := &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{
		{Name: "RED", Value: 0}, {Name: "GREEN", Value: 1}, {Name: "BLUE", Value: 2}}}
	proc := &btf.Struct{Name: "proc", Size: 24, Members: []btf.Member{
		{Name: "comm", Type: &btf.Array{Type: char, Index: u32, Nelems: 16}, Offset: 0},
		{Name: "pid", Type: u32, Offset: 128},
		{Name: "uid", Type: &btf.Typedef{Name: "gadget_uid", Type: u32}, Offset: 160},
	}}
	st := &btf.Struct{Name: "event", Size: 44, Members: []btf.Member{
		{Name: "proc", Type: proc, Offset: 0},
		{Name: "upper_layer", Type: state, Offset: 192},
		{Name: "error_raw", Type: &btf.Typedef{Name: "gadget_errno", Type: u32}, Offset: 224},
		{Name: "fileless", Type: &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}, Offset: 256},
		{Name: "delta", Type: s32, Offset: 288},
		{Name: "color", Type: color, Offset: 320},
	}}
	ds, err := decode.DataSource("exec", st)
	if err != nil {
		t.Fatal(err)
	}
	d := ds.NewData()
	copy(d.Raw, "bash")
	binary.LittleEndian.PutUint32(d.Raw[16:], 42)
	binary.LittleEndian.PutUint32(d.Raw[20:], 0)
	binary.LittleEndian.PutUint32(d.Raw[24:], 2)
	binary.LittleEndian.PutUint32(d.Raw[28:], 2)
	d.Raw[32] = 1
	binary.LittleEndian.PutUint32(d.Raw[36:], uint32(0xffffffff-4))
	binary.LittleEndian.PutUint32(d.Raw[40:], 1)
	return ds, d
}

// TestParseChecksValues: values are read as what their field holds, and match accordingly.
func TestParseChecksValues(t *testing.T) {
	ds, d := execSample(t)
	fm := format.New()
	for expr, want := range map[string]bool{
		"proc.comm==bash":              true,
		"proc.comm~^ba":                true,
		"proc.pid==42":                 true,
		"proc.pid>41,proc.pid<43":      true,
		"proc.pid>=0x2a":               true,
		"proc.pid!=42":                 false,
		"proc.uid==0":                  true,
		"proc.uid==root":               true,
		"upper_layer==YES":             true,
		"upper_layer==yes":             true,
		"upper_layer==true":            true,
		"upper_layer==UNKNOWN":         false,
		"upper_layer==null":            false,
		"error==ENOENT":                true,
		"error==2":                     true,
		"error_raw==2":                 true,
		"error!=EACCES":                true,
		"fileless==true":               true,
		"delta<0":                      true,
		"delta==-5":                    true,
		"color==GREEN":                 true,
		"color==green":                 true,
		"color!=RED":                   true,
		" proc.comm == bash , delta<0": true,
	} {
		f, err := filter.Parse(ds, expr, fm)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got := f.Match(d); got != want {
			t.Errorf("%s: match %v, want %v", expr, got, want)
		}
	}
}

// TestParseErrors: a value its field cannot hold, an unknown field and an empty filter are
// refused with the whole reason.
func TestParseErrors(t *testing.T) {
	ds, _ := execSample(t)
	fm := format.New()
	for expr, want := range map[string]string{
		"proc.pid>abc":             `filter "proc.pid>abc": "abc" is not a number, and proc.pid holds uint32 numbers (0 to 4294967295)`,
		"proc.pid==-1":             `filter "proc.pid==-1": "-1" is not a number, and proc.pid holds uint32 numbers (0 to 4294967295)`,
		"proc.pid==":               `filter "proc.pid==": no value after the operator: proc.pid holds uint32 numbers (0 to 4294967295)`,
		"delta>1.5":                `filter "delta>1.5": "1.5" is not a number, and delta holds int32 numbers (-2147483648 to 2147483647)`,
		"upper_layer==MAYBE":       `filter "upper_layer==MAYBE": upper_layer is YES, NO or UNKNOWN, not "MAYBE"`,
		"color==PINK":              `filter "color==PINK": color is RED, GREEN or BLUE, not "PINK"`,
		"fileless==yes":            `filter "fileless==yes": fileless is true or false, not "yes"`,
		"error==ENOPE":             `filter "error==ENOPE": "ENOPE" is neither an errno name (ENOENT, EACCES…) nor a number (error holds uint32 numbers (0 to 4294967295))`,
		"proc.uid==nosuchuser-xyz": `filter "proc.uid==nosuchuser-xyz": "nosuchuser-xyz" is neither a user name of /etc/passwd nor a number (proc.uid holds uint32 numbers (0 to 4294967295))`,
		"comm==bash":               `filter "comm==bash": data source exec has no field "comm"; did you mean proc.comm?`,
		"proc.pdi==1":              `filter "proc.pdi==1": data source exec has no field "proc.pdi"; did you mean proc.pid?`,
		"zzzzzzzz==1":              `filter "zzzzzzzz==1": data source exec has no field "zzzzzzzz" (fields: proc.comm, proc.pid, proc.uid, upper_layer, fileless, delta, color, error)`,
		"==1":                      `filter "==1": no field before the operator; write field==value`,
		"proc.comm":                `filter "proc.comm": no operator; write field==value, !=, >, >=, <, <= or ~regex`,
		"proc.comm~(":              "filter \"proc.comm~(\": bad regular expression: error parsing regexp: missing closing ): `(`",
		"":                         `filter "" is empty: write field==value (or !=, >, >=, <, <=, ~regex), rules joined by commas`,
		" , ":                      `filter " , " is empty: write field==value (or !=, >, >=, <, <=, ~regex), rules joined by commas`,
	} {
		_, err := filter.Parse(ds, expr, fm)
		if err == nil {
			t.Errorf("%q accepted; want %s", expr, want)
		} else if err.Error() != want {
			t.Errorf("%q:\n got %s\nwant %s", expr, err, want)
		}
	}
}

// TestNearest: suffix matches first, then typos; far names only when all are asked for.
func TestNearest(t *testing.T) {
	names := []string{"trace_exec", "traceloop", "block_exec"}
	for _, tc := range []struct {
		name string
		all  bool
		want []string
	}{
		{"trace_exe", false, []string{"trace_exec"}},
		{"trace_exe", true, []string{"trace_exec", "traceloop", "block_exec"}},
		{"traceloops", false, []string{"traceloop"}},
		{"blok_exec", false, []string{"block_exec"}},
		{"nothing_like_it", false, nil},
	} {
		got := filter.Nearest(tc.name, names, tc.all)
		if len(got) != len(tc.want) {
			t.Errorf("Nearest(%q, %v) = %v, want %v", tc.name, tc.all, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Nearest(%q, %v) = %v, want %v", tc.name, tc.all, got, tc.want)
				break
			}
		}
	}
}

// FuzzParse: any expression either fails to parse or gives a filter that can be applied.
func FuzzParse(f *testing.F) {
	ds := datasource.New("x", datasource.TypeSingle, 24)
	ds.AddStaticField("comm", datasource.KindCString, 0, 16)
	ds.AddStaticField("pid", datasource.KindInt32, 16, 4)
	e, _ := ds.AddStaticField("err", datasource.KindUint32, 20, 4)
	e.Type = "gadget_errno"
	fm := format.New()
	for _, s := range []string{"comm==bash", "pid>=1,pid<3", "err==ENOENT", "comm~^b.*", "pid!=", ",,", "comm~("} {
		f.Add(s, []byte("bash\x00"))
	}
	f.Fuzz(func(t *testing.T, expr string, raw []byte) {
		flt, err := filter.Parse(ds, expr, fm)
		if err != nil {
			return
		}
		d := ds.NewData()
		copy(d.Raw, raw)
		flt.Match(d)
	})
}
