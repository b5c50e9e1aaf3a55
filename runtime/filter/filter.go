// Package filter parses and applies user-space record filters: `field==v`, `!=`, `>`, `>=`,
// `<`, `<=`, `~regex`, rules joined by commas (all must hold).
package filter

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
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
	// numField is the field whose number a numeric rule compares: the rule's field, or the
	// foo_raw a formatted foo is shown from.
	numField *datasource.Field
}

// Filter is a parsed set of rules for one data source.
type Filter struct {
	rules []rule
	fm    *format.Formatter
	buf   []byte
}

// Parse parses expr (e.g. "proc.comm==bash,proc.pid>100,filename~^/usr") for the fields of ds.
// Each value is checked against its field (format.Formatter.ParseValue): a numeric field takes
// numbers ("proc.pid>abc" is an error), an enum its enumerators, a tri-state YES, NO or UNKNOWN
// (or true, false, null, as JSON shows them), a field whose typedef names its numbers a number
// or such a name (`error==ENOENT`, `uid==root`). Numbers compare as numbers, names and strings
// as the field's formatted text. An empty expression, or an unknown field (the nearest names
// are suggested), is an error.
func Parse(ds *datasource.DataSource, expr string, fm *format.Formatter) (*Filter, error) {
	f := &Filter{fm: fm}
	for _, part := range strings.Split(expr, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r, err := parseRule(ds, part, fm)
		if err != nil {
			return nil, err
		}
		f.rules = append(f.rules, r)
	}
	if len(f.rules) == 0 {
		return nil, fmt.Errorf("filter %q is empty: write field==value (or !=, >, >=, <, <=, ~regex), rules joined by commas", expr)
	}
	return f, nil
}

var ops = []struct {
	s  string
	op op
}{{"==", opEq}, {"!=", opNe}, {">=", opGe}, {"<=", opLe}, {"~", opMatch}, {">", opGt}, {"<", opLt}}

func parseRule(ds *datasource.DataSource, s string, fm *format.Formatter) (rule, error) {
	best, bestOp, bestLen := -1, opEq, 0
	for _, o := range ops {
		if i := strings.Index(s, o.s); i >= 0 && (best < 0 || i < best) {
			best, bestOp, bestLen = i, o.op, len(o.s)
		}
	}
	if best < 0 {
		return rule{}, fmt.Errorf("filter %q: no operator; write field==value, !=, >, >=, <, <= or ~regex", s)
	}
	name, val := strings.TrimSpace(s[:best]), strings.TrimSpace(s[best+bestLen:])
	if name == "" {
		return rule{}, fmt.Errorf("filter %q: no field before the operator; write field==value", s)
	}
	fld := ds.Field(name)
	if fld == nil {
		return rule{}, fmt.Errorf("filter %q: %s", s, NoField(ds, name))
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
	v, err := fm.ParseValue(fld, val)
	if err != nil {
		return rule{}, fmt.Errorf("filter %q: %w", s, err)
	}
	r.text, r.num, r.isNum = v.Text, v.Num, v.Numeric
	if r.isNum {
		if src := decode.RawSource(fld); src != nil {
			r.numField = src // a formatted foo's number is its foo_raw's
		}
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
		nf := r.field
		if r.numField != nil && !nf.IsSet(d) {
			nf = r.numField
		}
		var v float64
		switch {
		case nf.Kind.Signed():
			v = float64(nf.Int(d))
		case nf.Kind == datasource.KindFloat32 || nf.Kind == datasource.KindFloat64:
			v = nf.Float(d)
		default:
			v = float64(nf.Uint(d))
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
