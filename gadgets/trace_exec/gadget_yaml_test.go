package traceexec_test

import (
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/oci/metadata"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/format"
)

// TestGadgetYAMLMatchesObject checks that gadget.yaml parses and names only fields, params and
// programs the object has, and that every program the default run must not need is optional.
func TestGadgetYAMLMatchesObject(t *testing.T) {
	b, err := os.ReadFile("gadget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.Parse(b)
	if err != nil {
		t.Fatalf("parsing gadget.yaml: %v", err)
	}
	spec, err := ebpf.LoadCollectionSpec(objectPath(t))
	if err != nil {
		t.Fatal(err)
	}
	lay, err := newLayout(spec.Types)
	if err != nil {
		t.Fatal(err)
	}
	ds := meta.DataSources["exec"]
	if ds == nil {
		t.Fatal("gadget.yaml has no datasource exec")
	}
	for name := range ds.Fields {
		if _, ok := lay.fields[name]; ok {
			continue
		}
		if _, ok := lay.fields[name+"_raw"]; ok { // formatted sibling of foo_raw
			continue
		}
		t.Errorf("gadget.yaml annotates field %q, struct event has no such member", name)
	}
	for name := range lay.fields {
		name = strings.TrimSuffix(name, "_raw")
		if ds.Fields[name] == nil || ds.Fields[name].Annotations["description"] == "" {
			t.Errorf("field %q has no description in gadget.yaml", name)
		}
	}
	// The runtime's generic decoder must accept struct event and expose the annotated names.
	var st *btf.Struct
	if err := spec.Types.TypeByName("event", &st); err != nil {
		t.Fatal(err)
	}
	gds, err := decode.DataSource("exec", st)
	if err != nil {
		t.Fatalf("the runtime's decoder rejects struct event: %v", err)
	}
	for name, fm := range ds.Fields {
		f := gds.Field(name)
		if f == nil {
			t.Errorf("the runtime's decoder has no field %q", name)
			continue
		}
		for k, v := range fm.Annotations {
			f.Annotations[k] = v
		}
		if err := format.CheckAnnotations(f); err != nil {
			t.Error(err)
		}
	}
	// args is shown as a whole argv, not as its first C string.
	if a := gds.Field("args"); a == nil || a.Annotations[format.ValueFormatAnnotation] != format.ValueFormatArgv || a.Annotations[format.ValueSizeFieldAnnotation] != "args_size" {
		t.Errorf("args must be annotated value.format: argv, value.size-field: args_size")
	}
	for v := range meta.Params.EBPF {
		if _, ok := spec.Variables[v]; !ok {
			t.Errorf("gadget.yaml param %q: no such variable in the object", v)
		}
	}
	for p := range meta.Programs {
		if spec.Programs[p] == nil {
			t.Errorf("gadget.yaml program %q: no such program in the object", p)
		}
	}
	for _, p := range optionalPrograms {
		if mp := meta.Programs[p]; mp == nil || !mp.Optional {
			t.Errorf("program %s must be optional in gadget.yaml", p)
		}
	}
	// The failed-exec programs hook syscall tracepoints, which cost every syscall: they are
	// attached only when the user asks for failed execs.
	for _, p := range failedPrograms {
		mp := meta.Programs[p]
		if mp == nil || mp.EnabledIf == nil || mp.EnabledIf.String() != "ignore-failed=false" {
			t.Errorf("program %s must be enabled_if: ignore-failed=false in gadget.yaml", p)
		}
	}
	if len(spec.Programs) != len(optionalPrograms)+len(failedPrograms)+1 {
		t.Errorf("object has programs %v; update the tests and gadget.yaml", spec.Programs)
	}
}
