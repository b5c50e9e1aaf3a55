package format

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// Annotations (set in gadget.yaml under datasources.<ds>.fields.<f>.annotations) that change how
// a field's value is read and shown.
const (
	// ValueFormatAnnotation names the layout of a char-array field's bytes. Its only value
	// today is ValueFormatArgv.
	ValueFormatAnnotation = "value.format"
	// ValueFormatArgv: the bytes are NUL-separated strings (an argv). Columns show them joined
	// by spaces, shell-quoted where needed; JSON and YAML show a list of strings.
	ValueFormatArgv = "argv"
	// ValueSizeFieldAnnotation names an integer field of the same record that holds how many of
	// the field's bytes are valid (e.g. args_size for args). Without it the value stops at the
	// last NUL of the array (trailing NULs are dropped).
	ValueSizeFieldAnnotation = "value.size-field"
)

// argvSpec is the parsed argv annotation of one field, cached per Formatter.
type argvSpec struct {
	argv bool
	size *datasource.Field
}

func (fm *Formatter) argvOf(f *datasource.Field) argvSpec {
	if s, ok := fm.argv[f]; ok {
		return s
	}
	var s argvSpec
	if f.Annotations[ValueFormatAnnotation] == ValueFormatArgv &&
		(f.Kind == datasource.KindCString || f.Kind == datasource.KindBytes || f.Kind == datasource.KindString) {
		s.argv = true
		if n := f.Annotations[ValueSizeFieldAnnotation]; n != "" && f.DataSource() != nil {
			if sf := f.DataSource().Field(n); sf != nil && sf.Kind.Scalar() {
				s.size = sf
			}
		}
	}
	if fm.argv == nil {
		fm.argv = map[*datasource.Field]argvSpec{}
	}
	fm.argv[f] = s
	return s
}

// bytes returns the valid bytes of an argv field: the whole array (not cut at the first
// NUL), limited by the size field, without trailing NULs.
func (s argvSpec) bytes(f *datasource.Field, d *datasource.Data) []byte {
	b := rawBytes(f, d)
	if s.size != nil {
		if n := s.size.Uint(d); n < uint64(len(b)) {
			b = b[:n]
		}
	}
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// rawBytes returns all bytes of f, including those after a NUL for a C string.
func rawBytes(f *datasource.Field, d *datasource.Data) []byte {
	if f.Kind != datasource.KindCString || !f.Static() {
		return f.Bytes(d)
	}
	off, size := f.Offset(), f.Size()
	if off+size > len(d.Raw) {
		return nil
	}
	return d.Raw[off : off+size]
}

// AppendArgv appends NUL-separated strings b: a JSON list of strings when js, else the
// arguments joined by spaces, each quoted like a shell would need it.
func AppendArgv(dst, b []byte, js bool) []byte {
	if js {
		dst = append(dst, '[')
	}
	if len(b) == 0 {
		if js {
			dst = append(dst, ']')
		}
		return dst
	}
	for i := 0; ; i++ {
		end := 0
		for end < len(b) && b[end] != 0 {
			end++
		}
		arg := b[:end]
		if i > 0 {
			if js {
				dst = append(dst, ',')
			} else {
				dst = append(dst, ' ')
			}
		}
		if js {
			dst = appendJSONBytes(dst, arg)
		} else {
			dst = appendShellWord(dst, arg)
		}
		if end >= len(b) {
			break
		}
		b = b[end+1:]
	}
	if js {
		dst = append(dst, ']')
	}
	return dst
}

// appendShellWord appends arg as is when a shell would read it as one word, in single quotes
// when it holds spaces or shell syntax, and Go-quoted when it holds control characters or
// invalid UTF-8 (so a table line never breaks).
func appendShellWord(dst, arg []byte) []byte {
	if len(arg) == 0 {
		return append(dst, "''"...)
	}
	plain, control := true, false
	for _, c := range arg {
		switch {
		case c < 0x20 || c == 0x7f:
			control = true
		case c >= utf8.RuneSelf:
			// checked below
		case c == ' ' || c == '\'' || c == '"' || c == '\\' || c == '$' || c == '`' || c == '*' ||
			c == '?' || c == '&' || c == ';' || c == '|' || c == '<' || c == '>' || c == '(' ||
			c == ')' || c == '#' || c == '~' || c == '[' || c == ']' || c == '{' || c == '}':
			plain = false
		}
	}
	if control || !utf8.Valid(arg) {
		return strconv.AppendQuote(dst, string(arg))
	}
	if plain {
		return append(dst, arg...)
	}
	dst = append(dst, '\'')
	for _, c := range arg {
		if c == '\'' {
			dst = append(dst, `'\''`...)
			continue
		}
		dst = append(dst, c)
	}
	return append(dst, '\'')
}

// CheckAnnotations reports a gadget.yaml value.* annotation on f that formatting cannot honour
// (an unknown value.format, a field that is not a char array, a size field that is missing or
// not an integer), so a typo fails the gadget's preparation instead of silently showing argv[0].
func CheckAnnotations(f *datasource.Field) error {
	vf, hasFormat := f.Annotations[ValueFormatAnnotation]
	sf, hasSize := f.Annotations[ValueSizeFieldAnnotation]
	if !hasFormat && !hasSize {
		return nil
	}
	where := "datasources." + dsName(f) + ".fields." + f.Name + ".annotations"
	if !hasFormat {
		return fmt.Errorf("%s: %s needs %s: %s", where, ValueSizeFieldAnnotation, ValueFormatAnnotation, ValueFormatArgv)
	}
	if vf != ValueFormatArgv {
		return fmt.Errorf("%s: %s %q is not known (known: %s)", where, ValueFormatAnnotation, vf, ValueFormatArgv)
	}
	if f.Kind != datasource.KindCString && f.Kind != datasource.KindBytes && f.Kind != datasource.KindString {
		return fmt.Errorf("%s: %s: %s needs a char array, and %s is %s", where, ValueFormatAnnotation, vf, f.Name, f.Kind)
	}
	if hasSize {
		s := (*datasource.Field)(nil)
		if f.DataSource() != nil {
			s = f.DataSource().Field(sf)
		}
		if s == nil || !s.Kind.Scalar() || s.Kind == datasource.KindBool || s.Kind == datasource.KindFloat32 || s.Kind == datasource.KindFloat64 {
			return fmt.Errorf("%s: %s %q is not an integer field of data source %s", where, ValueSizeFieldAnnotation, sf, dsName(f))
		}
	}
	return nil
}

func dsName(f *datasource.Field) string {
	if f.DataSource() == nil {
		return "?"
	}
	return f.DataSource().Name
}
