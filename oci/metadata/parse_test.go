package metadata

import (
	"reflect"
	"strings"
	"testing"
)

const full = `name: trace_exec
description: Trace process executions
category: observer
homepageURL: https://example.org
documentationURL: https://example.org/doc
sourceURL: https://example.org/src
annotations:
  io.gadgetry.category: process
datasources:
  exec:
    annotations:
      cli.clear-screen-before: "false"
    fields:
      comm:
        annotations:
          description: command name
          columns.width: 16
          columns.hidden: true
      __raw:
params:
  ebpf:
    ignore_failed:
      key: ignore-failed
      defaultValue: true
      description: ignore failed calls
  wasm:
    paths:
      key: paths
      defaultValue: ""
      typeHint: bool
      possibleValues: [a, b]
      isMandatory: false
  custom:
    mode:
      defaultValue: a
      values:
        a:
          patch:
            datasources:
              exec:
                annotations:
                  columns.output: none
programs:
  ig_execve_e:
    attach_to: sys_enter_execve
    optional: true
    enabled_if: ignore-failed=false
    affects: [error]
  ig_execve_lsm:
    alternative: mechanism=lsm
`

func TestParseFull(t *testing.T) {
	m, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := &Metadata{
		Name:             "trace_exec",
		Description:      "Trace process executions",
		Category:         "observer",
		HomepageURL:      "https://example.org",
		DocumentationURL: "https://example.org/doc",
		SourceURL:        "https://example.org/src",
		Annotations:      map[string]string{"io.gadgetry.category": "process"},
		DataSources: map[string]*DataSource{"exec": {
			Annotations: map[string]string{"cli.clear-screen-before": "false"},
			Fields: map[string]*Field{
				"comm":  {Annotations: map[string]string{"description": "command name", "columns.width": "16", "columns.hidden": "true"}},
				"__raw": {},
			},
		}},
		Params: Params{
			EBPF: map[string]*Param{"ignore_failed": {Key: "ignore-failed", DefaultValue: "true", Description: "ignore failed calls"}},
			WASM: map[string]*Param{"paths": {Key: "paths", TypeHint: "bool", PossibleValues: []string{"a", "b"}}},
			Custom: map[string]any{"mode": map[string]any{"defaultValue": "a", "values": map[string]any{"a": map[string]any{"patch": map[string]any{
				"datasources": map[string]any{"exec": map[string]any{"annotations": map[string]any{"columns.output": "none"}}},
			}}}}},
		},
		Programs: map[string]*Program{"ig_execve_e": {AttachTo: "sys_enter_execve", Optional: true,
			EnabledIf: &Condition{Param: "ignore-failed", Value: "false"}, Affects: []string{"error"}},
			"ig_execve_lsm": {Alternative: &Condition{Param: "mechanism", Value: "lsm"}}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	// Marshal then Parse gives the same value.
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(b)
	if err != nil {
		t.Fatalf("re-parsing marshalled metadata: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(m2, want) {
		t.Fatalf("round trip: got %+v", m2)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n"} {
		m, err := Parse([]byte(in))
		if err != nil || !reflect.DeepEqual(m, &Metadata{}) {
			t.Errorf("Parse(%q) = %+v, %v; want empty", in, m, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"typo at top", "name: x\ndatasource:\n  a: {}\n", `gadget.yaml:2: unknown key "datasource" in the metadata file (did you mean "datasources"?)`},
		{"unknown key", "name: x\nfoo: 1\n", `gadget.yaml:2: unknown key "foo" in the metadata file (known: name, description`},
		{"case typo", "homepageUrl: x\n", `gadget.yaml:1: unknown key "homepageUrl" in the metadata file (did you mean "homepageURL"?)`},
		{"nested unknown", "datasources:\n  exec:\n    fields:\n      comm:\n        annotation: {}\n", `gadget.yaml:5: unknown key "annotation" in datasources.exec.fields.comm (did you mean "annotations"?)`},
		{"name is a map", "name:\n  a: b\n", `gadget.yaml:2: name must be a string, not a mapping`},
		{"params is a list", "params: [1]\n", `gadget.yaml:1: params must be a mapping, not a list`},
		{"optional not bool", "programs:\n  p:\n    optional: yes please\n", `gadget.yaml:3: programs.p.optional must be true or false, not "yes please"`},
		{"bad condition", "programs:\n  p:\n    enabled_if: ignore-failed\n", `gadget.yaml:3: programs.p.enabled_if: condition "ignore-failed": want key=value or key!=value`},
		{"negated alternative", "programs:\n  p:\n    alternative: mechanism!=lsm\n", `gadget.yaml:3: programs.p.alternative: "mechanism!=lsm": an alternative is chosen by one value: want key=value`},
		{"duplicate", "name: a\nname: b\n", `gadget.yaml:2: key "name" given twice`},
		{"bad yaml", "name: a\n  b: [\n", `gadget.yaml:2: invalid YAML`},
		{"two documents", "name: a\n---\nname: b\n", `gadget.yaml:3: a second YAML document`},
		{"alias", "a: &x {}\nannotations: *x\n", `gadget.yaml:1: unknown key "a"`},
		{"alias value", "annotations: &x {}\ndatasources:\n  d: *x\n", `gadget.yaml:3: datasources.d: aliases`},
		{"top is a list", "- a\n", `gadget.yaml:1: the metadata file must be a mapping, not a list`},
		{"annotation value map", "annotations:\n  a:\n    b: c\n", `gadget.yaml:3: annotations.a must be a string, not a mapping`},
		{"param group", "params:\n  ebfp: {}\n", `gadget.yaml:2: unknown key "ebfp" in params (did you mean "ebpf"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseTooBig(t *testing.T) {
	_, err := Parse(make([]byte, MaxSize+1))
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("got %v", err)
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("name: a\nname: b\n"))
	f.Add([]byte("a: &x [*x, *x]\n"))
	f.Add([]byte("datasources: {a: {fields: {b: {annotations: {c: 1}}}}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), FileName) {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		out, err := Marshal(m)
		if err != nil {
			t.Fatalf("marshal of parsed metadata: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("parsed metadata does not re-parse: %v\n%s", err, out)
		}
	})
}

func TestCondition(t *testing.T) {
	for _, tc := range []struct {
		in, value string
		holds     bool
	}{
		{"ignore-failed=false", "false", true},
		{"ignore-failed=false", "true", false},
		{"mode != fast", "slow", true},
		{"mode!=fast", "fast", false},
	} {
		c, err := ParseCondition(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Holds(tc.value); got != tc.holds {
			t.Errorf("%q.Holds(%q) = %v", tc.in, tc.value, got)
		}
	}
	if _, err := ParseCondition("=x"); err == nil {
		t.Error("condition without key accepted")
	}
}
