// Package filter parses and applies user-space record filters: `field==v`, `!=`, `>`, `>=`,
// `<`, `<=`, `~regex`, rules joined by commas (all must hold).
package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
)

type op int

const (
	opEq op = iota
	opNe
	opGt
	opGe
	opLt
	opLe
	opMatch
)

type rule struct {
	field *datasource.Field
	op    op
	text  string
	num   float64
	isNum bool
	re    *regexp.Regexp
}

// Filter is a parsed set of rules for one data source.
type Filter struct {
	rules []rule
	fm    *format.Formatter
	buf   []byte
}

// Parse parses expr (e.g. "comm==bash,pid>100,filename~^/usr") for the fields of ds.
// Values compare as numbers when both the field is numeric and the value parses as a number,
// otherwise as the field's formatted text (so `error==ENOENT` and `uid==root` work). A
// tri-state field (format.TriState) also takes true, false and null, as JSON shows it
// (`upper_layer==true` is `upper_layer==YES`).
func Parse(ds *datasource.DataSource, expr string, fm *format.Formatter) (*Filter, error) {
	f := &Filter{fm: fm}
	for _, part := range strings.Split(expr, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r, err := parseRule(ds, part)
		if err != nil {
			return nil, err
		}
		f.rules = append(f.rules, r)
	}
	return f, nil
}

var ops = []struct {
	s  string
	op op
}{{"==", opEq}, {"!=", opNe}, {">=", opGe}, {"<=", opLe}, {"~", opMatch}, {">", opGt}, {"<", opLt}}

func parseRule(ds *datasource.DataSource, s string) (rule, error) {
	best, bestOp, bestLen := -1, opEq, 0
	for _, o := range ops {
		if i := strings.Index(s, o.s); i > 0 && (best < 0 || i < best) {
			best, bestOp, bestLen = i, o.op, len(o.s)
		}
	}
	if best < 0 {
		return rule{}, fmt.Errorf("filter %q: no operator; write field==value, !=, >, >=, <, <= or ~regex", s)
	}
	name, val := strings.TrimSpace(s[:best]), strings.TrimSpace(s[best+bestLen:])
	fld := ds.Field(name)
	if fld == nil {
		var names []string
		for _, f := range ds.Fields() {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		}
		return rule{}, fmt.Errorf("filter %q: data source %q has no field %q (fields: %s)", s, ds.Name, name, strings.Join(names, ", "))
	}
	r := rule{field: fld, op: bestOp, text: val}
	if bestOp == opMatch {
		re, err := regexp.Compile(val)
		if err != nil {
			return rule{}, fmt.Errorf("filter %q: bad regular expression: %w", s, err)
		}
		r.re = re
		return r, nil
	}
	if fld.Kind.Scalar() && fld.Enum == nil {
		if n, err := strconv.ParseFloat(val, 64); err == nil {
			r.num, r.isNum = n, true
		}
	}
	if name, ok := format.TriName(fld, val); ok {
		// upper_layer==true: the word JSON shows stands for the enumerator columns show.
		r.text = name
	}
	return r, nil
}

// Match reports whether d satisfies every rule.
func (f *Filter) Match(d *datasource.Data) bool {
	for i := range f.rules {
		r := &f.rules[i]
		if !f.match(r, d) {
			return false
		}
	}
	return true
}

// Empty reports whether the filter has no rules.
func (f *Filter) Empty() bool { return f == nil || len(f.rules) == 0 }

func (f *Filter) match(r *rule, d *datasource.Data) bool {
	if r.isNum {
		var v float64
		switch {
		case r.field.Kind.Signed():
			v = float64(r.field.Int(d))
		case r.field.Kind == datasource.KindFloat32 || r.field.Kind == datasource.KindFloat64:
			v = r.field.Float(d)
		default:
			v = float64(r.field.Uint(d))
		}
		switch r.op {
		case opEq:
			return v == r.num
		case opNe:
			return v != r.num
		case opGt:
			return v > r.num
		case opGe:
			return v >= r.num
		case opLt:
			return v < r.num
		case opLe:
			return v <= r.num
		}
		return false
	}
	f.buf = f.fm.AppendText(f.buf[:0], r.field, d)
	if r.op == opMatch {
		return r.re.Match(f.buf)
	}
	c := strings.Compare(string(f.buf), r.text)
	switch r.op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	}
	return false
}
