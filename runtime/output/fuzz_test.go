package output_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// FuzzJSON: any record bytes give one valid JSON line.
func FuzzJSON(f *testing.F) {
	f.Add([]byte("bash\x00"))
	f.Add([]byte("\xff\xfe\"\\\n\x00\x01"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ds, d := sample(t)
		copy(d.Raw, raw)
		fields, _ := output.Select(ds, output.JSON, "+__h")
		var buf bytes.Buffer
		w := output.New(&buf, output.JSON, fields, format.New())
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if !json.Valid(bytes.TrimSpace(buf.Bytes())) {
			t.Fatalf("invalid JSON %q", buf.String())
		}
	})
}
