package metadata

import (
	"reflect"
	"strings"
	"testing"
)

// An IG-style gadget.yaml: the keys Inspektor Gadget documents and its own gadgets use, beside
// Gadgetry's. Written for this test, not taken from IG's tree.
const igStyle = `name: sample_profiler
description: samples stacks
dataSources:
  samples:
    annotations:
      cli.clear-screen-before: "true"
    fields:
      count:
        annotations:
          metrics.type: counter
paramDefaults:
  operator.oci.ebpf.map-fetch-interval: "0"
operator:
  process:
    interval: 1s
params:
  ebpf:
    sample_rate:
      key: rate
      defaultValue: "49"
      description: samples per second
      type: uint32
      alternativeKey: frequency
      tags: [advanced]
programs:
  sample:
    perf:
      type: software
      config: count_sw_cpu_clock
      sampleType: sample_raw
    sampler:
      frequency: 49
`

// TestParseIGKeys: IG's keys parse into their fields; camel-case dataSources is datasources.
func TestParseIGKeys(t *testing.T) {
	m, err := Parse([]byte(igStyle))
	if err != nil {
		t.Fatal(err)
	}
	if ds := m.DataSources["samples"]; ds == nil || ds.Fields["count"].Annotations["metrics.type"] != "counter" {
		t.Errorf("dataSources: %+v", m.DataSources)
	}
	if got := m.ParamDefaults["operator.oci.ebpf.map-fetch-interval"]; got != "0" {
		t.Errorf("paramDefaults: %v", m.ParamDefaults)
	}
	if m.Operator["process"] == nil {
		t.Errorf("operator: %v", m.Operator)
	}
	p := m.Params.EBPF["sample_rate"]
	if p == nil || p.TypeHint != "uint32" || p.AlternativeKey != "frequency" || !reflect.DeepEqual(p.Tags, []string{"advanced"}) {
		t.Errorf("param: %+v", p)
	}
	pr := m.Programs["sample"]
	if pr == nil || pr.Perf == nil || *pr.Perf != (Perf{Type: "software", Config: "count_sw_cpu_clock", SampleType: "sample_raw"}) || pr.Sampler == nil || pr.Sampler.Frequency != 49 {
		t.Errorf("program: %+v", pr)
	}
}

// TestParseIGKeysStillStrict: a key neither project defines, at any level, is still an error
// naming the line (and the close key), as is a key given in both spellings.
func TestParseIGKeysStillStrict(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"top typo", "paramDefault:\n  a: b\n", `gadget.yaml:1: unknown key "paramDefault" in the metadata file (did you mean "paramDefaults"?)`},
		{"datasource typo", "dataSource:\n  x: {}\n", `gadget.yaml:1: unknown key "dataSource"`},
		{"both spellings", "datasources:\n  a: {}\ndataSources:\n  b: {}\n", `gadget.yaml:4: dataSources: the data sources are given twice (datasources and dataSources); keep one`},
		{"perf typo", "programs:\n  p:\n    perf:\n      sampletype: raw\n", `gadget.yaml:4: unknown key "sampletype" in programs.p.perf (did you mean "sampleType"?)`},
		{"sampler typo", "programs:\n  p:\n    sampler:\n      freq: 1\n", `gadget.yaml:4: unknown key "freq" in programs.p.sampler`},
		{"sampler value", "programs:\n  p:\n    sampler:\n      frequency: often\n", `gadget.yaml:4: programs.p.sampler.frequency must be a positive number`},
		{"program typo", "programs:\n  p:\n    perff: {}\n", `gadget.yaml:3: unknown key "perff" in programs.p (did you mean "perf"?)`},
		{"param typo", "params:\n  ebpf:\n    x:\n      tag: [a]\n", `gadget.yaml:4: unknown key "tag" in params.ebpf.x`},
		{"type twice", "params:\n  ebpf:\n    x:\n      type: bool\n      typeHint: bool\n", `gadget.yaml:5: params.ebpf.x: the type is given twice`},
		{"paramDefaults value", "paramDefaults:\n  a: [1]\n", `gadget.yaml:2: paramDefaults.a must be a string`},
		{"operator kind", "operator: 3\n", `gadget.yaml:1: operator must be a mapping`},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
