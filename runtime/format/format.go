// Package format turns field values into text for people (columns) and into JSON values, by the
// field's kind, its enum names and its gadget_* typedef (timestamps, errno, users, syscalls...).
// Everything that does not change per event (boot time, user and group names, the syscall
// table) is read once per Formatter.
package format

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/decode"
	"github.com/gadgetry/gadgetry/runtime/syscalls"
)

// Formatter formats values. It is not safe for concurrent use.
type Formatter struct {
	bootWall time.Time // wall-clock time of boot: add boot-time ns to get wall-clock time
	users    map[uint32]string
	groups   map[uint32]string
	sysTable *syscalls.Table
	// specs are the fields' specs by data source, by field index; lastDS and last are the
	// data source looked up last and its specs (a record's fields share one).
	specs  map[*datasource.DataSource][]*fieldSpec
	lastDS *datasource.DataSource
	last   []*fieldSpec
}

// fieldSpec is how a field is shown, worked out once per field.
type fieldSpec struct {
	argv argvSpec      // value.format: argv
	tri  map[int64]Tri // the states of a tri-state enum (TriState); nil for other fields
	raw  bool          // a foo_raw field with a formatted sibling: shown as its plain value
	// rawSource is the foo_raw field a formatted foo is made from (decode.RawSource), or nil.
	rawSource *datasource.Field
	// zero: an added field without a value shows its kind's zero value in JSON (UnsetAnnotation).
	zero bool
	// enumSource is the enum field a name field is made from (decode.EnumSource), or nil.
	enumSource *datasource.Field
	// enumNum: an enum field with a name field (decode.EnumNameAnnotation), not a tri-state:
	// a number in JSON, as in Inspektor Gadget.
	enumNum bool
}

// UnsetAnnotation, set to "zero" on an added field, makes a record in which the field has no
// value show the zero value of its kind in JSON and YAML ("", 0, false) instead of null: the
// container and Kubernetes fields, which Inspektor Gadget's JSON always has as strings,
// numbers and booleans, empty for the host's events.
const UnsetAnnotation = "value.unset"

// UIDGIDTargetAnnotation names, on a gadget_uid or gadget_gid field, the key of the user or
// group name JSON shows beside the number (Inspektor Gadget's annotation: trace_exec's
// loginuid has loginuser).
const UIDGIDTargetAnnotation = "uidgidresolver.target"

// spec returns f's spec, worked out at its first use; a lookup is a slice index (formatting
// runs for every field of every record).
func (fm *Formatter) spec(f *datasource.Field) *fieldSpec {
	ds := f.DataSource()
	if ds != fm.lastDS || ds == nil {
		if fm.specs == nil {
			fm.specs = map[*datasource.DataSource][]*fieldSpec{}
		}
		fm.lastDS, fm.last = ds, fm.specs[ds]
	}
	i := f.Index()
	if i < len(fm.last) && fm.last[i] != nil {
		return fm.last[i]
	}
	s := &fieldSpec{argv: parseArgv(f), tri: TriState(f), raw: decode.FormattedSibling(f) != nil,
		rawSource: decode.RawSource(f), zero: f.Annotations[UnsetAnnotation] == "zero", enumSource: decode.EnumSource(f)}
	s.enumNum = f.Enum != nil && s.tri == nil && f.Annotations[decode.EnumNameAnnotation] != "" && f.DataSource() != nil &&
		decode.EnumSource(f.DataSource().Field(f.Annotations[decode.EnumNameAnnotation])) == f
	if ds == nil {
		return s // a field of no data source: not cached
	}
	if i >= len(fm.last) {
		fm.last = append(fm.last, make([]*fieldSpec, i+1-len(fm.last))...)
	}
	fm.last[i] = s
	fm.specs[ds] = fm.last
	return s
}

// New returns a Formatter for this host.
func New() *Formatter {
	f := &Formatter{}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err == nil {
		f.bootWall = time.Now().Add(-time.Duration(ts.Nano()))
	}
	f.users = readIDs("/etc/passwd")
	f.groups = readIDs("/etc/group")
	f.sysTable, _ = syscalls.Running()
	return f
}

// readIDs reads name:x:id:... lines once.
func readIDs(path string) map[uint32]string {
	m := map[uint32]string{}
	fh, err := os.Open(path)
	if err != nil {
		return m
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 4)
		if len(parts) < 3 {
			continue
		}
		id, err := strconv.ParseUint(parts[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = parts[0]
		}
	}
	return m
}

// BootToWall converts boot-time nanoseconds (bpf_ktime_get_boot_ns) to wall-clock time.
func (fm *Formatter) BootToWall(ns uint64) time.Time {
	return fm.bootWall.Add(time.Duration(ns))
}

// IDName returns the user name of a gadget_uid field's value, or the group name of a
// gadget_gid field's value (from /etc/passwd and /etc/group, read once).
func (fm *Formatter) IDName(f *datasource.Field, d *datasource.Data) (string, bool) {
	if !f.Kind.Scalar() || !f.IsSet(d) {
		return "", false
	}
	var n string
	var ok bool
	switch f.Type {
	case "gadget_uid":
		n, ok = fm.users[uint32(f.Uint(d))]
	case "gadget_gid":
		n, ok = fm.groups[uint32(f.Uint(d))]
	}
	return n, ok
}

// IDText returns the user or group name of a gadget_uid or gadget_gid field's value, or
// "uid:N" / "gid:N" when /etc/passwd or /etc/group has no name for it (Inspektor Gadget's form).
func (fm *Formatter) IDText(f *datasource.Field, d *datasource.Data) string {
	if n, ok := fm.IDName(f, d); ok {
		return n
	}
	prefix := "uid:"
	if f.Type == "gadget_gid" {
		prefix = "gid:"
	}
	return prefix + strconv.FormatUint(uint64(uint32(f.Uint(d))), 10)
}

// isID reports whether f is a gadget_uid or gadget_gid number.
func isID(f *datasource.Field) bool {
	return f.Kind.Scalar() && (f.Type == "gadget_uid" || f.Type == "gadget_gid")
}

// IDNameKey is the JSON/YAML key that carries the name beside a gadget_uid or gadget_gid field
// whose own key is key, as Inspektor Gadget names it: the field's uidgidresolver.target
// annotation when it has one, else "user" or "group" in the same object (proc.creds.uid gives
// proc.creds.user; a loginuid without the annotation gives user too); "" for other fields, and
// for a foo_raw id and its formatted sibling foo, where foo is the name. Where that key is
// taken, the writer uses IDNameFallback. Tables show the name in place of the number instead.
func IDNameKey(f *datasource.Field, key string) string {
	var name string
	switch f.Type {
	case "gadget_uid":
		name = "user"
	case "gadget_gid":
		name = "group"
	default:
		return ""
	}
	if decode.RawSource(f) != nil {
		return "" // foo of foo_raw: the name itself
	}
	if t := f.Annotations[UIDGIDTargetAnnotation]; t != "" {
		return t
	}
	if decode.FormattedSibling(f) != nil {
		return "" // foo_raw: its foo is the name
	}
	return name
}

// IDNameFallback is the key of the name beside a gadget_uid or gadget_gid field whose
// IDNameKey is already a key of its object (a second unannotated id beside uid, or a field
// named user): "uid" → "user", "loginuid" → "loginuser", "owner_uid" → "owner_user", else the
// key with "_user" or "_group" added. Inspektor Gadget refuses to run such a gadget.
func IDNameFallback(f *datasource.Field, key string) string {
	var id, name string
	switch f.Type {
	case "gadget_uid":
		id, name = "uid", "user"
	case "gadget_gid":
		id, name = "gid", "group"
	default:
		return ""
	}
	if strings.HasSuffix(key, id) {
		return strings.TrimSuffix(key, id) + name
	}
	return key + "_" + name
}

// AppendText appends the value of f in d as text for a table.
func (fm *Formatter) AppendText(dst []byte, f *datasource.Field, d *datasource.Data) []byte {
	return fm.appendValue(dst, f, d, false)
}

// AppendJSON appends the value of f in d as a JSON value. Numbers stay numbers unless their
// typedef gives them a name (errno, signal, syscall, timestamp, file mode/flags); a tri-state
// enum (TriState) is true, false or null; a foo_raw field with a formatted sibling foo is its
// plain number (a timestamp's: wall-clock nanoseconds since the epoch, as Inspektor Gadget's
// timestamp_raw), and the foo of a gadget_uid/gadget_gid foo_raw is the user or group name.
func (fm *Formatter) AppendJSON(dst []byte, f *datasource.Field, d *datasource.Data) []byte {
	return fm.appendValue(dst, f, d, true)
}

func (fm *Formatter) appendValue(dst []byte, f *datasource.Field, d *datasource.Data, js bool) []byte {
	s := fm.spec(f)
	if src := s.rawSource; src != nil && !f.IsSet(d) {
		// The formatted sibling: the raw field's value, shown by their typedef as Inspektor
		// Gadget's formatters show it (igSibling).
		if js && isID(src) {
			return appendJSONString(dst, fm.IDText(src, d))
		}
		if v, ok := fm.igSibling(src, d); ok {
			if js {
				return appendJSONString(dst, v)
			}
			return append(dst, v...)
		}
		return fm.appendTyped(dst, src, d, js)
	}
	if src := s.enumSource; src != nil && !f.IsSet(d) && src.Kind.Scalar() {
		// The name field of an enum (ebpf.formatter.enum), as Inspektor Gadget names it.
		v := igEnumText(src, src.Uint(d))
		if js {
			return appendJSONString(dst, v)
		}
		return append(dst, v...)
	}
	if s.enumNum && js {
		return appendPlain(dst, f, d, js)
	}
	if s.raw {
		if f.Type == "gadget_timestamp" && f.Kind.Scalar() {
			if ns := f.Uint(d); ns != 0 {
				return strconv.AppendInt(dst, fm.BootToWall(ns).UnixNano(), 10)
			}
		}
		return appendPlain(dst, f, d, js)
	}
	return fm.appendTyped(dst, f, d, js)
}

// TimestampLayout is how JSON shows a gadget_timestamp: RFC 3339 with all nine digits of the
// nanoseconds (Inspektor Gadget's layout; time.RFC3339Nano drops trailing zeros).
const TimestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// igSibling returns the text of the formatted foo made from the foo_raw field src, in the form
// Inspektor Gadget's formatters give it (the same in JSON and tables): a syscall is
// "SYS_OPENAT" ("SYS_UNKNOWN" for a number this kernel does not name), an errno or a signal
// without a name "error#N" or "signal#N", bytes in SI units ("1.5 kB"), a duration in at most
// two decimals of its unit ("12.35ms"), a file mode as Go's fs.FileMode shows the number, open
// flags by IG's list of names. ok is false for the other typedefs (timestamps, ids), which
// appendTyped shows.
func (fm *Formatter) igSibling(src *datasource.Field, d *datasource.Data) (string, bool) {
	if !src.Kind.Scalar() {
		return "", false
	}
	if src.Enum != nil {
		return igEnumText(src, src.Uint(d)), true
	}
	switch src.Type {
	case "gadget_syscall":
		if fm.sysTable != nil {
			if n, ok := fm.sysTable.Name(int(src.Uint(d))); ok {
				return "SYS_" + strings.ToUpper(n), true
			}
		}
		return "SYS_UNKNOWN", true
	case "gadget_errno":
		v := src.Int(d)
		if v < 0 {
			v = -v
		}
		if v == 0 {
			return "", true
		}
		return errnoText(int(v)), true
	case "gadget_signal":
		v := src.Uint(d)
		if n := unix.SignalName(unix.Signal(v)); n != "" {
			return n, true
		}
		return "signal#" + strconv.FormatUint(v, 10), true
	case "gadget_bytes":
		return siBytes(src.Uint(d)), true
	case "gadget_duration":
		return shortDuration(time.Duration(src.Uint(d))), true
	case "gadget_file_mode":
		return fs.FileMode(uint32(src.Uint(d))).String(), true
	case "gadget_file_flags":
		return igOpenFlags(uint32(src.Uint(d))), true
	}
	return "", false
}

// BitfieldSeparatorAnnotation, on a foo_raw of an enum whose type's name ends in "_set",
// joins the names of its bits in foo (Inspektor Gadget's annotation; "|" without it).
const BitfieldSeparatorAnnotation = "ebpf.formatter.bitfield.separator"

// igEnumText is the foo of an enum foo_raw as Inspektor Gadget shows it: the enumerator's
// name, "UNKNOWN" for a value the enum does not name (a tri-state too: its names, not JSON's
// true/false/null); for an enum type named *_set, a set of bits: the names of the enumerators
// whose bits are all in v, in the order of their values (an enumerator of value 0 always),
// joined by BitfieldSeparatorAnnotation.
func igEnumText(f *datasource.Field, v uint64) string {
	if !strings.HasSuffix(f.Type, "_set") || !strings.HasPrefix(f.Type, "enum ") {
		if n, ok := f.Enum[int64(v)]; ok {
			return n
		}
		return "UNKNOWN"
	}
	sep := f.Annotations[BitfieldSeparatorAnnotation]
	if sep == "" {
		sep = "|"
	}
	vals := make([]uint64, 0, len(f.Enum))
	for e := range f.Enum {
		vals = append(vals, uint64(e))
	}
	slices.Sort(vals)
	var b strings.Builder
	for _, e := range vals {
		if v&e == e {
			if b.Len() > 0 {
				b.WriteString(sep)
			}
			b.WriteString(f.Enum[int64(e)])
		}
	}
	return b.String()
}

// errnoText is the name Inspektor Gadget gives errno n: for a Linux errno Go's name
// (golang.org/x/sys/unix, which picks ENOTSUP for 95 and EFSCORRUPTED for 117 where C headers
// say EOPNOTSUPP and EUCLEAN), else "error#N" (134: Go's newer tables call it EFTYPE, a BSD
// name Linux has not; ig prints error#134).
func errnoText(n int) string {
	s, ok := syscalls.ErrnoName(n)
	if !ok {
		return "error#" + strconv.Itoa(n)
	}
	if g := unix.ErrnoName(unix.Errno(n)); g != "" {
		return g
	}
	return s
}

// siBytes shows n bytes in SI units: "7 B", "1.5 kB", "124 MB" (one decimal below 10 of a
// unit, none from 10 on).
func siBytes(n uint64) string {
	if n < 10 {
		return strconv.FormatUint(n, 10) + " B"
	}
	const units = "BkMGTPE"
	e := int(math.Floor(math.Log(float64(n)) / math.Log(1000)))
	v := math.Floor(float64(n)/math.Pow(1000, float64(e))*10+0.5) / 10
	unit := units[e:e+1] + "B"
	if e == 0 {
		unit = "B"
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
}

// shortDuration shows d as "512ns", "12.35µs", "12.35ms", or from a second on as
// time.Duration does ("2.5s").
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 2, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	}
	return d.String()
}

// Text returns the value of f in d as text.
func (fm *Formatter) Text(f *datasource.Field, d *datasource.Data) string {
	return string(fm.AppendText(nil, f, d))
}

func (fm *Formatter) appendTyped(dst []byte, f *datasource.Field, d *datasource.Data, js bool) []byte {
	s := fm.spec(f)
	if !f.Static() && !f.IsSet(d) {
		if js {
			if s.zero {
				return appendZero(dst, f.Kind)
			}
			return append(dst, "null"...)
		}
		return dst
	}
	if s.argv.argv {
		return AppendArgv(dst, s.argv.bytes(f, d), js)
	}
	if s.tri != nil && js {
		return appendTri(dst, s.tri[f.Int(d)]) // a value the enum does not name is unknown too
	}
	str := func(s string) []byte {
		if js {
			return appendJSONString(dst, s)
		}
		return append(dst, s...)
	}
	if f.Enum != nil {
		if n, ok := f.Enum[f.Int(d)]; ok {
			return str(n)
		}
	}
	switch f.Type {
	case "gadget_timestamp":
		if f.Kind.Scalar() {
			ns := f.Uint(d)
			if ns == 0 {
				return str("")
			}
			if js {
				dst = append(dst, '"')
				dst = fm.BootToWall(ns).AppendFormat(dst, TimestampLayout)
				return append(dst, '"')
			}
			return fm.BootToWall(ns).AppendFormat(dst, "15:04:05.000000")
		}
	case "gadget_errno":
		if f.Kind.Scalar() {
			v := int(f.Int(d))
			if v < 0 {
				v = -v
			}
			if v == 0 {
				return str("")
			}
			if n, ok := syscalls.ErrnoName(v); ok {
				return str(n)
			}
		}
	case "gadget_uid":
		if !js && f.Kind.Scalar() {
			if n, ok := fm.users[uint32(f.Uint(d))]; ok {
				return append(dst, n...)
			}
		}
	case "gadget_gid":
		if !js && f.Kind.Scalar() {
			if n, ok := fm.groups[uint32(f.Uint(d))]; ok {
				return append(dst, n...)
			}
		}
	case "gadget_syscall":
		if f.Kind.Scalar() && fm.sysTable != nil {
			if n, ok := fm.sysTable.Name(int(f.Uint(d))); ok {
				return str(n)
			}
		}
	case "gadget_signal":
		if f.Kind.Scalar() {
			if n := unix.SignalName(unix.Signal(f.Uint(d))); n != "" {
				return str(n)
			}
		}
	case "gadget_file_mode":
		if f.Kind.Scalar() {
			return str(fileMode(uint32(f.Uint(d))))
		}
	case "gadget_file_flags":
		if f.Kind.Scalar() {
			return str(openFlags(uint32(f.Uint(d))))
		}
	case "gadget_bytes":
		if !js && f.Kind.Scalar() {
			return append(dst, humanBytes(f.Uint(d))...)
		}
	case "gadget_duration":
		if !js && f.Kind.Scalar() {
			return append(dst, time.Duration(f.Uint(d)).String()...)
		}
	}
	return appendPlain(dst, f, d, js)
}

func appendPlain(dst []byte, f *datasource.Field, d *datasource.Data, js bool) []byte {
	switch f.Kind {
	case datasource.KindBool:
		return strconv.AppendBool(dst, f.Bool(d))
	case datasource.KindInt8, datasource.KindInt16, datasource.KindInt32, datasource.KindInt64:
		return strconv.AppendInt(dst, f.Int(d), 10)
	case datasource.KindUint8, datasource.KindUint16, datasource.KindUint32, datasource.KindUint64:
		return strconv.AppendUint(dst, f.Uint(d), 10)
	case datasource.KindFloat32:
		return strconv.AppendFloat(dst, f.Float(d), 'g', -1, 32)
	case datasource.KindFloat64:
		return strconv.AppendFloat(dst, f.Float(d), 'g', -1, 64)
	case datasource.KindString, datasource.KindCString:
		b := f.Bytes(d)
		if js {
			return appendJSONBytes(dst, b)
		}
		return append(dst, b...)
	case datasource.KindBytes:
		if ek := f.Annotations[decode.ArrayAnnotation]; ek != "" {
			return appendArray(dst, f.Bytes(d), ek, js)
		}
		b := f.Bytes(d)
		if js {
			dst = append(dst, '"')
		}
		for _, c := range b {
			dst = append(dst, hex[c>>4], hex[c&15])
		}
		if js {
			dst = append(dst, '"')
		}
		return dst
	}
	if js {
		return append(dst, "null"...)
	}
	return dst
}

// appendZero appends the JSON zero value of kind: false, 0 or "".
func appendZero(dst []byte, kind datasource.Kind) []byte {
	switch {
	case kind == datasource.KindBool:
		return append(dst, "false"...)
	case kind.Scalar():
		return append(dst, '0')
	}
	return append(dst, `""`...)
}

const hex = "0123456789abcdef"

func appendArray(dst, b []byte, elemKind string, js bool) []byte {
	size, signed := 4, false
	switch elemKind {
	case "int8":
		size, signed = 1, true
	case "uint8", "bool":
		size = 1
	case "int16":
		size, signed = 2, true
	case "uint16":
		size = 2
	case "int32":
		signed = true
	case "int64":
		size, signed = 8, true
	case "uint64":
		size = 8
	}
	dst = append(dst, '[')
	for i := 0; i+size <= len(b); i += size {
		if i > 0 {
			dst = append(dst, ',')
		}
		var u uint64
		for j := size - 1; j >= 0; j-- {
			u = u<<8 | uint64(b[i+j])
		}
		if signed {
			shift := 64 - 8*size
			dst = strconv.AppendInt(dst, int64(u<<shift)>>shift, 10)
		} else {
			dst = strconv.AppendUint(dst, u, 10)
		}
	}
	return append(dst, ']')
}

func appendJSONString(dst []byte, s string) []byte {
	return appendJSONBytes(dst, []byte(s))
}

// appendJSONBytes quotes b as a JSON string without allocating for plain ASCII.
func appendJSONBytes(dst, b []byte) []byte {
	plain := true
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, b...)
		return append(dst, '"')
	}
	q, _ := json.Marshal(string(b))
	return append(dst, q...)
}

// AppendJSONString appends s quoted as a JSON string.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

func fileMode(m uint32) string {
	var b [10]byte
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		b[0] = 'd'
	case unix.S_IFLNK:
		b[0] = 'l'
	case unix.S_IFCHR:
		b[0] = 'c'
	case unix.S_IFBLK:
		b[0] = 'b'
	case unix.S_IFIFO:
		b[0] = 'p'
	case unix.S_IFSOCK:
		b[0] = 's'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) != 0 {
			b[i+1] = rwx[i]
		} else {
			b[i+1] = '-'
		}
	}
	return string(b[:])
}

var openFlagNames = []struct {
	v    uint32
	name string
}{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"}, {unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DSYNC, "O_DSYNC"}, {unix.O_DIRECT, "O_DIRECT"}, {unix.O_LARGEFILE, "O_LARGEFILE"},
	{unix.O_DIRECTORY, "O_DIRECTORY"}, {unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_NOATIME, "O_NOATIME"}, {unix.O_CLOEXEC, "O_CLOEXEC"}, {unix.O_PATH, "O_PATH"},
}

// accessMode names open flags' access mode (O_RDONLY, O_WRONLY, O_RDWR), as the first of the
// names a formatter joins.
func accessMode(fl uint32) []string {
	switch fl & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return []string{"O_RDONLY"}
	case unix.O_WRONLY:
		return []string{"O_WRONLY"}
	case unix.O_RDWR:
		return []string{"O_RDWR"}
	}
	return nil
}

func openFlags(fl uint32) string {
	parts := accessMode(fl)
	rest := fl &^ unix.O_ACCMODE
	for _, n := range openFlagNames {
		if n.v != 0 && rest&n.v == n.v {
			parts = append(parts, n.name)
			rest &^= n.v
		}
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// igOpenFlags names open flags as Inspektor Gadget does: the access mode, then O_CREAT ...
// O_CLOEXEC (O_FASYNC among them) in the order of their bits; a bit without a name there
// (O_PATH, O_SYNC's and O_TMPFILE's own bits) is left out. The values are this architecture's.
func igOpenFlags(fl uint32) string {
	parts := accessMode(fl)
	for _, n := range igOpenFlagNames {
		if n.v != 0 && fl&n.v == n.v {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "|")
}

// oLargefile is the kernel's O_LARGEFILE (the C library's is 0 on 64-bit x86, the kernel's
// 0o100000).
var oLargefile = func() uint32 {
	if unix.O_LARGEFILE != 0 {
		return uint32(unix.O_LARGEFILE)
	}
	return 0o100000
}()

var igOpenFlagNames = []struct {
	v    uint32
	name string
}{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"}, {unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DSYNC, "O_DSYNC"}, {unix.O_ASYNC, "O_FASYNC"}, {unix.O_DIRECT, "O_DIRECT"},
	{oLargefile, "O_LARGEFILE"}, {unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_NOATIME, "O_NOATIME"}, {unix.O_CLOEXEC, "O_CLOEXEC"},
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, i := float64(n), 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + "BKMGTP"[i:i+1] + "iB"
}
