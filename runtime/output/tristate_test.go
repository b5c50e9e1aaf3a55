package output_test

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// triSample decodes trace_exec's shape from BTF: two fields of a YES/NO/UNKNOWN enum, a plain
// bool, and an errno kept as error_raw with its formatted sibling error.
func triSample(t *testing.T) (*datasource.DataSource, *datasource.Data) {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	state := &btf.Enum{Name: "upper_layer_state", Size: 4, Values: []btf.EnumValue{
		{Name: "UNKNOWN", Value: 0}, {Name: "NO", Value: 1}, {Name: "YES", Value: 2}}}
	st := &btf.Struct{Name: "event", Size: 16, Members: []btf.Member{
		{Name: "upper_layer", Type: state, Offset: 0},
		{Name: "fupper_layer", Type: state, Offset: 32},
		{Name: "error_raw", Type: &btf.Typedef{Name: "gadget_errno", Type: u32}, Offset: 64},
		{Name: "fileless", Type: &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}, Offset: 96},
	}}
	ds, err := decode.DataSource("exec", st)
	if err != nil {
		t.Fatal(err)
	}
	return ds, ds.NewData()
}

// setTri sets upper_layer and fupper_layer, and error_raw to 2 (ENOENT).
func setTri(d *datasource.Data, upper, fupper uint32) {
	binary.LittleEndian.PutUint32(d.Raw[0:], upper)
	binary.LittleEndian.PutUint32(d.Raw[4:], fupper)
	binary.LittleEndian.PutUint32(d.Raw[8:], 2)
}

// TestTriStateOutput: a YES/NO/UNKNOWN enum is true/false/null in JSON and YAML and its
// enumerator in columns; a foo_raw field is its number, its sibling foo the name.
func TestTriStateOutput(t *testing.T) {
	ds, d := triSample(t)
	const spec = "upper_layer,fupper_layer,fileless,error,error_raw"
	for _, tc := range []struct {
		upper, fupper uint32
		json, columns string
	}{
		{2, 1, `{"upper_layer":true,"fupper_layer":false,"fileless":false,"error":"ENOENT","error_raw":2}`, "YES NO false ENOENT 2"},
		{0, 2, `{"upper_layer":null,"fupper_layer":true,"fileless":false,"error":"ENOENT","error_raw":2}`, "UNKNOWN YES false ENOENT 2"},
		// A value the enum does not name is unknown in JSON, its number in columns.
		{7, 1, `{"upper_layer":null,"fupper_layer":false,"fileless":false,"error":"ENOENT","error_raw":2}`, "7 NO false ENOENT 2"},
	} {
		setTri(d, tc.upper, tc.fupper)
		if got := writeOne(t, ds, d, output.JSON, spec); got != tc.json+"\n" {
			t.Errorf("json:\n%s\nwant\n%s", got, tc.json)
		}
		var fromJSON, fromYAML map[string]any
		if err := json.Unmarshal([]byte(tc.json), &fromJSON); err != nil {
			t.Fatal(err)
		}
		y := writeOne(t, ds, d, output.YAML, spec)
		if err := yaml.Unmarshal([]byte(y), &fromYAML); err != nil {
			t.Fatalf("yaml %q: %v", y, err)
		}
		fromJSON["error_raw"] = 2 // YAML reads integers as int, JSON as float64
		if !reflect.DeepEqual(fromJSON, fromYAML) {
			t.Errorf("yaml:\n%s\nreads as %v, json as %v", y, fromYAML, fromJSON)
		}
		lines := strings.Split(strings.TrimSpace(writeOne(t, ds, d, output.Columns, spec)), "\n")
		if got := strings.Join(strings.Fields(lines[len(lines)-1]), " "); got != tc.columns {
			t.Errorf("columns: %q, want %q", got, tc.columns)
		}
	}
}

// TestTriStateFilter: -F takes the enumerator columns show and the word JSON shows.
func TestTriStateFilter(t *testing.T) {
	ds, d := triSample(t)
	setTri(d, 2, 0) // upper_layer YES, fupper_layer UNKNOWN
	checkFilters(t, ds, d, map[string]bool{
		"upper_layer==YES":      true,
		"upper_layer==true":     true,
		"upper_layer==TRUE":     true,
		"upper_layer==NO":       false,
		"upper_layer==false":    false,
		"upper_layer!=true":     false,
		"fupper_layer==null":    true,
		"fupper_layer==true":    false,
		"fupper_layer!=false":   true,
		"fupper_layer==UNKNOWN": true,
		"error_raw==2":          true,
		"error==ENOENT":         true,
	})
}
