package format

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/syscalls"
)

// Value is a value a user wrote for a field (a filter's right-hand side), checked against what
// the field can hold.
type Value struct {
	// Text is the value as the field's text shows it: an enumerator's own spelling for an enum
	// (upper_layer==yes is YES), the enumerator for the JSON word of a tri-state (true is YES).
	Text string
	// Num is the value as a number, when Numeric.
	Num float64
	// Numeric: compare Num with the field's number rather than Text with its text.
	Numeric bool
}

// ParseValue checks s against what field f can hold, as a value to compare the field with:
// a number for a numeric field (within its kind's range), true or false for a bool, one of the
// enumerators of an enum (in any case), YES, NO or UNKNOWN for a tri-state (or the words JSON
// shows: true, false, null), and for numbers a typedef names (gadget_errno, gadget_uid,
// gadget_gid, gadget_syscall, gadget_signal) a number or a name this host knows. Strings and
// the other typedefs (times, modes, sizes) take any text. The error says what f holds.
func (fm *Formatter) ParseValue(f *datasource.Field, s string) (Value, error) {
	if src := decode.RawSource(f); src != nil {
		// A formatted foo shows its foo_raw's value by their typedef: check against that.
		if src.Type == "gadget_syscall" && src.Kind.Scalar() {
			// Shown as SYS_OPENAT (igSibling): openat, OPENAT and SYS_openat mean it too.
			name, _ := strings.CutPrefix(strings.ToLower(s), "sys_")
			v, err := fm.parseValue(src, name, f.Name, false)
			if err == nil && !v.Numeric {
				v.Text = "SYS_" + strings.ToUpper(name)
			}
			return v, err
		}
		if src.Type == "gadget_errno" && src.Kind.Scalar() {
			// Shown by errnoText, which may name a number otherwise than the Linux name the
			// filter is given (EOPNOTSUPP is shown ENOTSUP): compare the numbers.
			if n := errnoNumber(s); n > 0 {
				return Value{Text: errnoText(n), Num: float64(n), Numeric: true}, nil
			}
			if n, ok := unixErrno(s); ok {
				return Value{Text: s, Num: float64(n), Numeric: true}, nil
			}
		}
		return fm.parseValue(src, s, f.Name, false)
	}
	// A foo_raw beside a formatted foo is the plain number.
	return fm.parseValue(f, s, f.Name, fm.spec(f).raw)
}

// parseValue is ParseValue of f, named name in errors; plain reads a number of f's kind only.
func (fm *Formatter) parseValue(f *datasource.Field, s, name string, plain bool) (Value, error) {
	if plain {
		return numberValue(f, name, s, "")
	}
	if fm.spec(f).argv.argv || !f.Kind.Scalar() {
		return Value{Text: s}, nil
	}
	if f.Kind == datasource.KindBool {
		if s != "true" && s != "false" {
			return Value{}, fmt.Errorf("%s is true or false, not %q", name, s)
		}
		return Value{Text: s}, nil
	}
	if tri := fm.spec(f).tri; tri != nil {
		return triValue(f, name, tri, s)
	}
	if f.Enum != nil {
		for _, v := range slices.Sorted(maps.Keys(f.Enum)) {
			if strings.EqualFold(f.Enum[v], s) {
				return Value{Text: f.Enum[v]}, nil
			}
		}
		return Value{}, fmt.Errorf("%s is %s, not %q", name, oneOf(enumNames(f)), s)
	}
	if s == "" {
		return Value{}, fmt.Errorf("no value after the operator: %s holds %s", name, kindWords(f))
	}
	var known func(string) bool
	var names string
	switch f.Type {
	case "gadget_errno":
		known, names = func(s string) bool { return errnoNumber(s) > 0 }, "an errno name (ENOENT, EACCES…)"
	case "gadget_uid":
		known, names = func(s string) bool { return slices.Contains(slices.Collect(maps.Values(fm.users)), s) }, "a user name of /etc/passwd"
	case "gadget_gid":
		known, names = func(s string) bool { return slices.Contains(slices.Collect(maps.Values(fm.groups)), s) }, "a group name of /etc/group"
	case "gadget_syscall":
		known = func(s string) bool {
			if fm.sysTable == nil {
				return true
			}
			_, ok := fm.sysTable.Number(s)
			return ok
		}
		names = "a syscall name (openat, execve…)"
	case "gadget_signal":
		known, names = func(s string) bool { return unix.SignalNum(s) != 0 }, "a signal name (SIGKILL, SIGTERM…)"
	case "gadget_timestamp", "gadget_file_mode", "gadget_file_flags", "gadget_bytes", "gadget_duration":
		// Shown as text (a time, rwxr-xr-x, O_RDONLY|O_CLOEXEC, 1.5 KiB): a number compares
		// with the number, anything else with that text.
		if v, err := numberValue(f, name, s, ""); err == nil {
			return v, nil
		}
		return Value{Text: s}, nil
	}
	v, err := numberValue(f, name, s, names)
	if err == nil || known == nil {
		return v, err
	}
	if known(s) {
		return Value{Text: s}, nil
	}
	return Value{}, fmt.Errorf("%q is neither %s nor a number (%s holds %s)", s, names, name, kindWords(f))
}

// numberValue parses s as a number of f's kind. names, when not empty, says what else f takes.
func numberValue(f *datasource.Field, name, s, names string) (Value, error) {
	bad := func() (Value, error) {
		if names != "" {
			return Value{}, fmt.Errorf("%q is neither %s nor a number (%s holds %s)", s, names, name, kindWords(f))
		}
		return Value{}, fmt.Errorf("%q is not a number, and %s holds %s", s, name, kindWords(f))
	}
	switch {
	case f.Kind == datasource.KindFloat32 || f.Kind == datasource.KindFloat64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(n) {
			return bad()
		}
		return Value{Text: s, Num: n, Numeric: true}, nil
	case f.Kind.Signed():
		n, err := strconv.ParseInt(s, 0, f.Kind.Size()*8)
		if err != nil {
			return bad()
		}
		return Value{Text: s, Num: float64(n), Numeric: true}, nil
	default:
		n, err := strconv.ParseUint(s, 0, f.Kind.Size()*8)
		if err != nil {
			return bad()
		}
		return Value{Text: s, Num: float64(n), Numeric: true}, nil
	}
}

// kindWords says what numbers a field of f's kind holds: "uint32 numbers (0 to 4294967295)".
func kindWords(f *datasource.Field) string {
	k := f.Kind
	switch {
	case k == datasource.KindFloat32 || k == datasource.KindFloat64:
		return k.String() + " numbers"
	case k.Signed():
		bits := k.Size()*8 - 1
		return fmt.Sprintf("%s numbers (%d to %d)", k, -(int64(1) << bits), int64(1)<<bits-1)
	case k.Scalar():
		return fmt.Sprintf("%s numbers (0 to %d)", k, uint64(math.MaxUint64)>>(64-k.Size()*8))
	}
	return k.String() + " values"
}

// triValue reads s as a state of tri-state field f: its enumerators (in any case, with or
// without their common prefix) or the JSON words true, false, null.
func triValue(f *datasource.Field, name string, tri map[int64]Tri, s string) (Value, error) {
	if n, ok := TriName(f, s); ok {
		return Value{Text: n}, nil
	}
	for v, e := range f.Enum {
		if strings.EqualFold(e, s) || strings.EqualFold(e[strings.LastIndexByte(e, '_')+1:], s) {
			return Value{Text: f.Enum[v]}, nil
		}
	}
	var words []string
	for _, st := range []Tri{Yes, No, Unknown} {
		for v, t := range tri {
			if t == st {
				words = append(words, f.Enum[v])
			}
		}
	}
	return Value{}, fmt.Errorf("%s is %s, not %q", name, oneOf(words), s)
}

// enumNames lists f's enumerators in the order of their values.
func enumNames(f *datasource.Field) []string {
	var out []string
	for _, v := range slices.Sorted(maps.Keys(f.Enum)) {
		out = append(out, f.Enum[v])
	}
	return out
}

// oneOf joins words as "A, B or C".
func oneOf(words []string) string {
	switch len(words) {
	case 0:
		return "nothing"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// errnoNumber returns the value of errno name s (ENOENT → 2), or 0.
// unixErrno is the number of an errno name Go knows (golang.org/x/sys/unix: ENOTSUP,
// EFSCORRUPTED).
func unixErrno(s string) (int, bool) {
	for n := 1; n < 1024; n++ {
		if unix.ErrnoName(unix.Errno(n)) == s {
			return n, true
		}
	}
	return 0, false
}

func errnoNumber(s string) int {
	for n := 1; n < 1024; n++ {
		if name, ok := syscalls.ErrnoName(n); ok && name == s {
			return n
		}
	}
	return 0
}
