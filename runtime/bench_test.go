package runtime_test

import (
	"context"
	"encoding/binary"
	"io"
	"testing"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// BenchmarkDecodeJSON measures the user-space cost of one exec record: copy into the reused
// record, emit to a subscriber, format every default field as a JSON line.
func BenchmarkDecodeJSON(b *testing.B) {
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("bench", gadgettest.Compile(b, "exec"), ""))
	if err != nil {
		b.Fatal(err)
	}
	dss, err := g.NewDataSources()
	if err != nil {
		b.Fatal(err)
	}
	ds := dss[0]
	fields, _ := output.Select(ds, output.JSON, "")
	w := output.New(io.Discard, output.JSON, fields, format.New())
	ds.Subscribe(0, func(_ *datasource.DataSource, d *datasource.Data) error { return w.Write(d) })
	raw := make([]byte, ds.RecordSize())
	copy(raw[8:], "bash")
	binary.LittleEndian.PutUint64(raw, 123456789)
	copy(raw[ds.Field("filename").Offset():], "/usr/bin/bash")
	d := ds.NewData()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ds.Reset(d)
		copy(d.Raw, raw)
		if _, err := ds.Emit(d); err != nil {
			b.Fatal(err)
		}
	}
}
