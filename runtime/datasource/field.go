package datasource

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Kind is the kind of a field's value. The numbers are those of the WASM ABI.
type Kind uint32

// Field kinds.
const (
	KindInvalid Kind = iota
	KindBool
	KindInt8
	KindInt16
	KindInt32
	KindInt64
	KindUint8
	KindUint16
	KindUint32
	KindUint64
	KindFloat32
	KindFloat64
	KindString  // a Go string: all bytes
	KindCString // NUL-terminated within its bytes (char[N] from the kernel)
	KindBytes
)

var kindNames = [...]string{"invalid", "bool", "int8", "int16", "int32", "int64", "uint8",
	"uint16", "uint32", "uint64", "float32", "float64", "string", "cstring", "bytes"}

// String returns the kind's name, e.g. "uint32".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// Size is the fixed size in bytes of a scalar kind, 0 for strings and bytes.
func (k Kind) Size() int {
	switch k {
	case KindBool, KindInt8, KindUint8:
		return 1
	case KindInt16, KindUint16:
		return 2
	case KindInt32, KindUint32, KindFloat32:
		return 4
	case KindInt64, KindUint64, KindFloat64:
		return 8
	}
	return 0
}

// Signed reports whether the kind is a signed integer.
func (k Kind) Signed() bool { return k >= KindInt8 && k <= KindInt64 }

// Scalar reports whether the kind is a number or a bool.
func (k Kind) Scalar() bool { return k >= KindBool && k <= KindFloat64 }

// Field is one named value of a data source's records.
type Field struct {
	// Name is the full name, with dots for nesting: "proc.parent.pid".
	Name string
	// Kind is the kind of the value.
	Kind Kind
	// Type is the BTF typedef that gives the value its meaning, e.g. "gadget_timestamp";
	// empty for plain values. Output formats values by it.
	Type string
	// Enum maps values to names for fields of C enum type; nil otherwise.
	Enum map[int64]string
	// Annotations come from gadget.yaml (columns.width, columns.hidden, description, ...).
	Annotations map[string]string
	// Tags classify the field ("kernel", "wasm", "container", ...).
	Tags []string
	// Hidden fields are decoded but not shown unless asked for (names starting with "__").
	Hidden bool

	ds           *DataSource
	offset, size int
	static       bool
	slot         int
	index        int // position in ds.Fields()
}

// Index is the field's position in its data source's Fields(): a key for per-field state that
// is cheaper than a map.
func (f *Field) Index() int { return f.index }

// Static reports whether the field lives in the raw record.
func (f *Field) Static() bool { return f.static }

// Offset and Size locate a static field in the raw record.
func (f *Field) Offset() int { return f.offset }

// Size is the size in bytes of a static field (0 for added fields).
func (f *Field) Size() int { return f.size }

// DataSource returns the data source the field belongs to.
func (f *Field) DataSource() *DataSource { return f.ds }

// Data is one record: the raw bytes the kernel wrote, and the values of added fields.
type Data struct {
	// Raw is the record as the kernel wrote it, RecordSize bytes.
	Raw   []byte
	slots []slot
}

type slot struct {
	num uint64
	buf []byte
	set bool
}

func (f *Field) raw(d *Data) []byte {
	if f.offset+f.size > len(d.Raw) {
		return nil
	}
	return d.Raw[f.offset : f.offset+f.size]
}

func (f *Field) slotOf(d *Data) *slot {
	if f.slot >= len(d.slots) {
		// Field added after d was created: grow the record.
		n := make([]slot, f.ds.nslots)
		copy(n, d.slots)
		d.slots = n
	}
	return &d.slots[f.slot]
}

// IsSet reports whether an added field has a value in d. Static fields are always set.
func (f *Field) IsSet(d *Data) bool {
	if f.static {
		return true
	}
	return f.slotOf(d).set
}

// Uint returns an unsigned integer or bool field's value (signed values are sign-extended
// and reinterpreted; floats are returned as their IEEE bits).
func (f *Field) Uint(d *Data) uint64 {
	if !f.static {
		return f.slotOf(d).num
	}
	b := f.raw(d)
	switch len(b) {
	case 1:
		if f.Kind == KindInt8 {
			return uint64(int64(int8(b[0])))
		}
		return uint64(b[0])
	case 2:
		v := binary.LittleEndian.Uint16(b)
		if f.Kind == KindInt16 {
			return uint64(int64(int16(v)))
		}
		return uint64(v)
	case 4:
		v := binary.LittleEndian.Uint32(b)
		if f.Kind == KindInt32 {
			return uint64(int64(int32(v)))
		}
		return uint64(v)
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Int returns a signed integer field's value.
func (f *Field) Int(d *Data) int64 { return int64(f.Uint(d)) }

// Bool returns a bool field's value.
func (f *Field) Bool(d *Data) bool { return f.Uint(d) != 0 }

// Float returns a float field's value.
func (f *Field) Float(d *Data) float64 {
	u := f.Uint(d)
	if f.Kind == KindFloat32 {
		return float64(math.Float32frombits(uint32(u)))
	}
	return math.Float64frombits(u)
}

// Bytes returns the bytes of a string, cstring or bytes field. For a cstring the bytes stop at
// the first NUL. The slice aliases the record: copy it to keep it.
func (f *Field) Bytes(d *Data) []byte {
	var b []byte
	if f.static {
		b = f.raw(d)
	} else {
		b = f.slotOf(d).buf
	}
	if f.Kind == KindCString {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
	}
	return b
}

// String returns a string field's value.
func (f *Field) String(d *Data) string { return string(f.Bytes(d)) }

// SetUint sets a scalar field (bools: 0 or 1; floats: IEEE bits).
func (f *Field) SetUint(d *Data, v uint64) error {
	if !f.Kind.Scalar() {
		return fmt.Errorf("field %q is %s, not a number", f.Name, f.Kind)
	}
	if !f.static {
		s := f.slotOf(d)
		s.num, s.set = v, true
		return nil
	}
	b := f.raw(d)
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, v)
	}
	return nil
}

// SetBytes sets a string, cstring or bytes field. A static field's value is truncated to its
// size (a cstring keeps room for its NUL) and the rest is zeroed.
func (f *Field) SetBytes(d *Data, v []byte) error {
	switch f.Kind {
	case KindString, KindCString, KindBytes:
	default:
		return fmt.Errorf("field %q is %s, not a string or bytes", f.Name, f.Kind)
	}
	if !f.static {
		s := f.slotOf(d)
		s.buf = append(s.buf[:0], v...)
		s.set = true
		return nil
	}
	b := f.raw(d)
	n := len(b)
	if f.Kind == KindCString && n > 0 {
		n--
	}
	c := copy(b[:n], v)
	clear(b[c:])
	return nil
}

// SetString sets a string field.
func (f *Field) SetString(d *Data, v string) error { return f.SetBytes(d, []byte(v)) }
