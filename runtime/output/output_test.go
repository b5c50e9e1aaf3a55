package output_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/filter"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
)

func sample(t testing.TB) (*datasource.DataSource, *datasource.Data) {
	ds := datasource.New("exec", datasource.TypeSingle, 32)
	must := func(f *datasource.Field, err error) *datasource.Field {
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	must(ds.AddStaticField("proc.comm", datasource.KindCString, 0, 16))
	must(ds.AddStaticField("proc.pid", datasource.KindUint32, 16, 4))
	e := must(ds.AddStaticField("error", datasource.KindUint32, 20, 4))
	e.Type = "gadget_errno"
	h := must(ds.AddStaticField("__h", datasource.KindUint32, 24, 4))
	h.Hidden = true
	r := must(ds.AddStaticField("ret", datasource.KindInt32, 28, 4))
	r.Annotations["columns.hidden"] = "true"
	d := ds.NewData()
	copy(d.Raw, "bash")
	binary.LittleEndian.PutUint32(d.Raw[16:], 42)
	binary.LittleEndian.PutUint32(d.Raw[20:], 2)
	binary.LittleEndian.PutUint32(d.Raw[28:], 0xffffffff)
	return ds, d
}

func render(t *testing.T, mode output.Mode, spec string) string {
	ds, d := sample(t)
	return writeOne(t, ds, d, mode, spec)
}

// writeOne writes d with the fields spec selects from ds and returns the output.
func writeOne(t *testing.T, ds *datasource.DataSource, d *datasource.Data, mode output.Mode, spec string) string {
	t.Helper()
	fields, err := output.Select(ds, mode, spec)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := output.New(&buf, mode, fields, format.New())
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.String()
}

func TestModes(t *testing.T) {
	if got, want := render(t, output.JSON, ""), `{"proc":{"comm":"bash","pid":42},"error":"ENOENT","ret":-1}`+"\n"; got != want {
		t.Errorf("json:\n%s\nwant\n%s", got, want)
	}
	if got, want := render(t, output.YAML, "proc.pid,error"), "---\nproc:\n  pid: 42\nerror: \"ENOENT\"\n"; got != want {
		t.Errorf("yaml:\n%q\nwant\n%q", got, want)
	}
	col := render(t, output.Columns, "")
	lines := strings.Split(strings.TrimSpace(col), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "PROC.COMM PROC.PID ERROR" || strings.Join(strings.Fields(lines[1]), " ") != "bash 42 ENOENT" {
		t.Errorf("columns:\n%s", col)
	}
	if got := render(t, output.Columns, "-error,+ret"); !strings.Contains(got, "RET") || strings.Contains(got, "ERROR") {
		t.Errorf("+/- fields:\n%s", got)
	}
	if got := render(t, output.JSONPretty, "proc.pid"); got != "{\n  \"proc\": {\n    \"pid\": 42\n  }\n}\n" {
		t.Errorf("jsonpretty:\n%s", got)
	}
	ds, _ := sample(t)
	if _, err := output.Select(ds, output.JSON, "nope"); err == nil || !strings.Contains(err.Error(), `no field "nope"`) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := output.ParseMode("xml"); err == nil {
		t.Error("xml accepted")
	}
}

func TestFilter(t *testing.T) {
	ds, d := sample(t)
	checkFilters(t, ds, d, map[string]bool{
		"proc.comm==bash":              true,
		"proc.comm!=bash":              false,
		"proc.pid>41,proc.pid<=42":     true,
		"proc.pid>=43":                 false,
		"error==ENOENT":                true,
		"proc.comm~^ba":                true,
		"proc.comm~^sh":                false,
		"ret<0":                        true,
		"proc.comm==bash, proc.pid==1": false,
	})
	for _, bad := range []string{"nofield==1", "proc.comm", "proc.comm~("} {
		if _, err := filter.Parse(ds, bad, format.New()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// checkFilters parses each filter expression for ds and checks whether it matches d.
func checkFilters(t *testing.T, ds *datasource.DataSource, d *datasource.Data, want map[string]bool) {
	t.Helper()
	fm := format.New()
	for expr, w := range want {
		f, err := filter.Parse(ds, expr, fm)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if got := f.Match(d); got != w {
			t.Errorf("%s: match %v, want %v", expr, got, w)
		}
	}
}

// BenchmarkJSON measures formatting one record as a JSON line (the per-event output cost).
func BenchmarkJSON(b *testing.B) {
	ds, d := sample(b)
	fields, _ := output.Select(ds, output.JSON, "")
	var buf bytes.Buffer
	w := output.New(&buf, output.JSON, fields, format.New())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.Write(d)
		if i%1024 == 0 {
			w.Flush()
			buf.Reset()
		}
	}
}

// TestUserAndGroupNames: a gadget_uid/gadget_gid field shows the name in tables and both the
// number and the name in JSON and YAML ("uid":0,"user":"root").
func TestUserAndGroupNames(t *testing.T) {
	ds := datasource.New("exec", datasource.TypeSingle, 8)
	uid, _ := ds.AddStaticField("proc.creds.uid", datasource.KindUint32, 0, 4)
	uid.Type = "gadget_uid"
	gid, _ := ds.AddStaticField("proc.creds.gid", datasource.KindUint32, 4, 4)
	gid.Type = "gadget_gid"
	d := ds.NewData() // uid 0, gid 0: root on every Linux
	write := func(mode output.Mode) string { return writeOne(t, ds, d, mode, "") }
	if got, want := write(output.JSON), `{"proc":{"creds":{"uid":0,"user":"root","gid":0,"group":"root"}}}`+"\n"; got != want {
		t.Errorf("json:\n%s\nwant\n%s", got, want)
	}
	if got := write(output.YAML); !strings.Contains(got, "    uid: 0\n    user: \"root\"\n") {
		t.Errorf("yaml:\n%s", got)
	}
	if got := write(output.Columns); !strings.Contains(strings.Split(got, "\n")[1], "root") {
		t.Errorf("columns:\n%s", got)
	}
	// An id without a name keeps the key, so every event has the same keys, and says the id
	// as Inspektor Gadget does ("uid:N", "gid:N").
	binary.LittleEndian.PutUint32(d.Raw[0:], 4000000123)
	binary.LittleEndian.PutUint32(d.Raw[4:], 4000000456)
	if got, want := write(output.JSON), `{"proc":{"creds":{"uid":4000000123,"user":"uid:4000000123","gid":4000000456,"group":"gid:4000000456"}}}`+"\n"; got != want {
		t.Errorf("json of ids without names:\n%s\nwant\n%s", got, want)
	}
	if got := write(output.YAML); !strings.Contains(got, "    uid: 4000000123\n    user: \"uid:4000000123\"\n") {
		t.Errorf("yaml of ids without names:\n%s", got)
	}
}

// TestColumnsEscapeControlCharacters: a string holding a newline or an escape sequence (a file
// name an attacker chose) shows as a $'...' word: the row stays one line and the terminal gets
// no escape byte. JSON keeps the exact bytes, escaped the JSON way.
func TestColumnsEscapeControlCharacters(t *testing.T) {
	for _, c := range []struct{ comm, shown string }{
		{"new\nline", `$'new\nline'`},
		{"\x1b[2Jwipe", `$'\e[2Jwipe'`},
		{"c1\u009b1m", `$'c1\xc2\x9b1m'`},
		{"bad\xff", `$'bad\xff'`},
		{"plain name", "plain name"},
	} {
		ds, d := sample(t)
		copy(d.Raw[:16], make([]byte, 16))
		copy(d.Raw, c.comm)
		out := writeOne(t, ds, d, output.Columns, "proc.comm,proc.pid")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], c.shown+" ") {
			t.Errorf("comm %q: want one row starting with %s, got %q", c.comm, c.shown, out)
		} else if format.NeedsEscape([]byte(lines[1])) {
			t.Errorf("comm %q: the row holds bytes a terminal would act on: %q", c.comm, lines[1])
		}
	}
}

// TestColumnsNeverNarrowerThanHeader: a columns.width below the header's length widens the
// column, so the values stay under their headers.
func TestColumnsNeverNarrowerThanHeader(t *testing.T) {
	ds, d := sample(t)
	ds.Field("proc.pid").Annotations["columns.width"] = "3"
	out := writeOne(t, ds, d, output.Columns, "proc.pid,proc.comm")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and a row, got %q", out)
	}
	if h, v := strings.Index(lines[0], "PROC.COMM"), strings.Index(lines[1], "bash"); h != v {
		t.Errorf("PROC.COMM starts at %d, its value at %d:\n%s", h, v, out)
	}
}
