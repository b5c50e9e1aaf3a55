package output_test

import (
	"bytes"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// argvSample is a record with trace_exec's shape: argv as NUL-separated bytes plus its size.
func argvSample(t testing.TB) (*datasource.DataSource, *datasource.Data) {
	ds := datasource.New("exec", datasource.TypeSingle, 68)
	size, err := ds.AddStaticField("args_size", datasource.KindUint32, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	size.Annotations["json.skip"] = "true"
	size.Annotations["columns.hidden"] = "true"
	args, err := ds.AddStaticField("args", datasource.KindCString, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	args.Annotations[format.ValueFormatAnnotation] = format.ValueFormatArgv
	args.Annotations[format.ValueSizeFieldAnnotation] = "args_size"
	d := ds.NewData()
	v := "sh\x00-c\x00echo 'a b'\x00"
	copy(d.Raw[4:], v+"junk")
	if err := size.SetUint(d, uint64(len(v))); err != nil {
		t.Fatal(err)
	}
	return ds, d
}

func renderArgv(t *testing.T, mode output.Mode) string {
	ds, d := argvSample(t)
	var buf bytes.Buffer
	w := output.New(&buf, mode, output.DefaultFields(ds, mode), format.New())
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.String()
}

// TestArgvModes: one string in columns, a list of strings in JSON and YAML.
func TestArgvModes(t *testing.T) {
	if got, want := renderArgv(t, output.Columns), "ARGS\nsh -c 'echo '\\''a b'\\'''\n"; got != want {
		t.Errorf("columns:\n%q\nwant\n%q", got, want)
	}
	if got, want := renderArgv(t, output.JSON), `{"args":["sh","-c","echo 'a b'"]}`+"\n"; got != want {
		t.Errorf("json:\n%s\nwant\n%s", got, want)
	}
	var doc struct{ Args []string }
	y := renderArgv(t, output.YAML)
	if err := yaml.Unmarshal([]byte(y), &doc); err != nil || len(doc.Args) != 3 || doc.Args[2] != "echo 'a b'" {
		t.Errorf("yaml %q: %v %q", y, err, doc.Args)
	}
}

// BenchmarkArgvJSON measures a JSON line of an argv record: no allocation per event.
func BenchmarkArgvJSON(b *testing.B) {
	ds, d := argvSample(b)
	var buf bytes.Buffer
	w := output.New(&buf, output.JSON, output.DefaultFields(ds, output.JSON), format.New())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.Write(d)
		if i%1024 == 0 {
			w.Flush()
			buf.Reset()
		}
	}
}
