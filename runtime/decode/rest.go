package decode

import (
	"fmt"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// Trailing data (Inspektor Gadget's convention): a tracer may send records longer than its
// struct, the struct followed by a payload (a packet's bytes after bpf_perf_event_output with
// BPF_F_CTXLEN_MASK, or a larger buffer). The data source's annotation RestName names a bytes
// field that receives what follows the struct; RestLen, when set, names a field of the struct
// holding how many of those bytes are the payload (else all of them are).
const (
	RestName = "ebpf.rest.name"
	RestLen  = "ebpf.rest.len"
)

// Rest fills a data source's trailing-data field from raw records.
type Rest struct {
	field, length *datasource.Field
	size          int
}

// AddRest adds the trailing-data field the data source's RestName annotation names (a no-op
// without the annotation) and returns what fills it, nil without the annotation. Call it after
// the data source's annotations are set and before its fields' annotations are applied.
func AddRest(ds *datasource.DataSource) (*Rest, error) {
	name := ds.Annotations[RestName]
	if name == "" {
		return nil, nil
	}
	r := &Rest{field: ds.Field(name), size: ds.RecordSize()}
	if r.field == nil {
		f, err := ds.AddField(name, datasource.KindBytes)
		if err != nil {
			return nil, err
		}
		r.field = f
	} else if r.field.Static() || r.field.Kind != datasource.KindBytes {
		return nil, fmt.Errorf("data source %s: annotation %s names %q, which is a field of the record's struct; the trailing data needs a name of its own", ds.Name, RestName, name)
	}
	if ln := ds.Annotations[RestLen]; ln != "" {
		r.length = ds.Field(ln)
		if r.length == nil || !r.length.Static() || !r.length.Kind.Scalar() {
			return nil, fmt.Errorf("data source %s: annotation %s names %q, which is not a number field of the record's struct (%s)", ds.Name, RestLen, ln, fieldNames(ds))
		}
	}
	return r, nil
}

// RestOf returns what fills the data source's trailing-data field, nil when it has none (or
// AddRest was not called).
func RestOf(ds *datasource.DataSource) *Rest {
	name := ds.Annotations[RestName]
	if name == "" {
		return nil
	}
	r := &Rest{field: ds.Field(name), size: ds.RecordSize()}
	if r.field == nil || r.field.Static() {
		return nil
	}
	if ln := ds.Annotations[RestLen]; ln != "" {
		if r.length = ds.Field(ln); r.length == nil || !r.length.Static() {
			return nil
		}
	}
	return r
}

// Fill sets d's trailing-data field from raw, the whole record the kernel sent (d.Raw holds
// its struct part): the bytes after the struct, cut to the length field's value when there
// is one. r may be nil.
func (r *Rest) Fill(d *datasource.Data, raw []byte) {
	if r == nil {
		return
	}
	var rest []byte
	if len(raw) > r.size {
		rest = raw[r.size:]
	}
	if r.length != nil {
		if n := r.length.Uint(d); n < uint64(len(rest)) {
			rest = rest[:n]
		}
	}
	_ = r.field.SetBytes(d, rest)
}

func fieldNames(ds *datasource.DataSource) string {
	var names []string
	for _, f := range ds.Fields() {
		if f.Static() {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}
