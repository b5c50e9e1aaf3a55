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
	// ValueFormatArgv: the bytes are NUL-terminated strings (an argv). Columns show them
	// joined by spaces, shell-quoted where needed; JSON and YAML show a list of strings.
	ValueFormatArgv = "argv"
	// ValueSizeFieldAnnotation names an integer field of the same record that holds how many of
	// the field's bytes are valid (e.g. args_size for args). Without it the value stops at the
	// last non-NUL byte of the array (trailing NULs are padding, so a trailing empty argument
	// is lost).
	ValueSizeFieldAnnotation = "value.size-field"
)

// argvSpec is the parsed argv annotation of one field.
type argvSpec struct {
	argv bool
	size *datasource.Field
}

func parseArgv(f *datasource.Field) argvSpec {
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
	return s
}

// bytes returns the valid bytes of an argv field: the whole array (not cut at the first NUL).
// With a size field that is exactly the first size bytes, so a trailing empty argument
// ("a\x00\x00": "a" and "") stays. Without one, trailing NULs are padding and are dropped (a
// trailing empty argument cannot be told from them).
func (s argvSpec) bytes(f *datasource.Field, d *datasource.Data) []byte {
	b := rawBytes(f, d)
	if s.size != nil {
		if n := s.size.Uint(d); n < uint64(len(b)) {
			b = b[:n]
		}
		return b
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

// AppendArgv appends the arguments in b, each ended by a NUL as the kernel lays out an argv
// (the last one's NUL may be missing: an argv cut at the captured size): a JSON list of strings
// when js, else the arguments joined by spaces, each quoted as a shell would need it
// (AppendShellWord). Empty b is no argument; "\x00" is one empty argument.
func AppendArgv(dst, b []byte, js bool) []byte {
	if js {
		dst = append(dst, '[')
	}
	for i := 0; len(b) > 0; i++ {
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
			dst = AppendShellWord(dst, arg)
		}
		if end == len(b) {
			break
		}
		b = b[end+1:]
	}
	if js {
		dst = append(dst, ']')
	}
	return dst
}

// AppendShellWord appends arg so that a POSIX shell reads it back as one word, and a terminal
// shows it on one line without interpreting anything: as is when that is already so, in
// single quotes when it holds spaces or shell syntax, and as a $'...' word (bash, zsh, ksh)
// when it holds bytes a terminal would not show as themselves (NeedsEscape).
func AppendShellWord(dst, arg []byte) []byte {
	if len(arg) == 0 {
		return append(dst, "''"...)
	}
	if NeedsEscape(arg) {
		return AppendEscaped(dst, arg)
	}
	plain := true
	for _, c := range arg {
		switch c {
		case ' ', '\'', '"', '\\', '$', '`', '*', '?', '&', ';', '|', '<', '>', '(', ')', '#', '~', '[', ']', '{', '}':
			plain = false
		}
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

// NeedsEscape reports whether b holds something a terminal would not show as itself: a control
// character (C0, DEL, or C1 such as CSI), another rune strconv.IsPrint rejects, or invalid
// UTF-8. A file name or comm chosen by an attacker could otherwise break a table line or send
// escape sequences to the user's terminal.
func NeedsEscape(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return true
		}
		i += n
	}
	return false
}

// ansiCNames are the C0 controls a $'...' word writes by name.
var ansiCNames = [0x20]string{'\a': `\a`, '\b': `\b`, '\t': `\t`, '\n': `\n`, '\v': `\v`, '\f': `\f`, '\r': `\r`, 0x1b: `\e`}

// AppendEscaped appends b as a $'...' word: printable runes as themselves, \a \b \t \n \v \f
// \r \e \\ \' by name, and every byte of anything else (NeedsEscape) as \xHH. Pasted into bash,
// zsh or ksh it gives back b's exact bytes.
func AppendEscaped(dst, b []byte) []byte {
	dst = append(dst, '$', '\'')
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c < 0x20 && ansiCNames[c] != "":
				dst = append(dst, ansiCNames[c]...)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
			case c == '\\' || c == '\'':
				dst = append(dst, '\\', c)
			default:
				dst = append(dst, c)
			}
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			for _, c := range b[i : i+n] {
				dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
			}
		} else {
			dst = append(dst, b[i:i+n]...)
		}
		i += n
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
