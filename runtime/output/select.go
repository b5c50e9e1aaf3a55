// Package output writes records as a table (columns), JSON lines, indented JSON or YAML, with
// the fields the user selected.
package output

import (
	"fmt"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/filter"
)

// Mode names an output format.
type Mode string

// Output modes.
const (
	Columns    Mode = "columns"
	JSON       Mode = "json"
	JSONPretty Mode = "jsonpretty"
	YAML       Mode = "yaml"
)

// Modes lists the valid modes.
var Modes = []Mode{Columns, JSON, JSONPretty, YAML}

// ParseMode checks a -o value.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown output mode %q (use columns, json, jsonpretty or yaml)", s)
}

// DefaultFields are the fields shown when the user selects none: not hidden, and in columns
// mode not marked columns.hidden, in JSON modes not marked json.skip. JSON modes also show
// each foo_raw field beside its formatted foo (timestamp_raw, error_raw: the numbers, as
// Inspektor Gadget's JSON has them), but not the 16 bytes of an endpoint's addr_raw.
func DefaultFields(ds *datasource.DataSource, mode Mode) []*datasource.Field {
	var out []*datasource.Field
	for _, f := range ds.Fields() {
		if f.Hidden && (mode == Columns || !jsonRaw(f)) {
			continue
		}
		if mode == Columns && f.Annotations["columns.hidden"] == "true" {
			continue
		}
		if mode != Columns && f.Annotations["json.skip"] == "true" {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Select applies a --fields spec: "a,b" picks exactly those fields, "+x,-y" adds to or removes
// from the default fields. An empty spec gives the defaults.
func Select(ds *datasource.DataSource, mode Mode, spec string) ([]*datasource.Field, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return DefaultFields(ds, mode), nil
	}
	parts := strings.Split(spec, ",")
	relative := false
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if strings.HasPrefix(p, "+") || strings.HasPrefix(p, "-") {
			relative = true
		}
	}
	var out []*datasource.Field
	if relative {
		out = DefaultFields(ds, mode)
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		sign := byte(0)
		if p[0] == '+' || p[0] == '-' {
			sign, p = p[0], p[1:]
		}
		f := ds.Field(p)
		if f == nil {
			return nil, fmt.Errorf("--fields: %s", filter.NoField(ds, p))
		}
		idx := -1
		for i, g := range out {
			if g == f {
				idx = i
			}
		}
		switch {
		case sign == '-':
			if idx >= 0 {
				out = append(out[:idx], out[idx+1:]...)
			}
		case idx < 0:
			out = append(out, f)
		}
	}
	return out, nil
}

// jsonRaw reports whether f is a hidden foo_raw field JSON shows beside its formatted foo
// (not one hidden by a "__" name of its own or of a struct it is in).
func jsonRaw(f *datasource.Field) bool {
	if decode.FormattedSibling(f) == nil || f.Type == decode.IPAddrType {
		return false
	}
	for _, p := range strings.Split(f.Name, ".") {
		if strings.HasPrefix(p, "__") {
			return false
		}
	}
	return true
}
