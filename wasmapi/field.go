package wasmapi

import (
	"math"
	"unsafe"
)

// FieldKind is the kind of a field's value; the numbers are those of the ABI.
type FieldKind uint32

// Field kinds.
const (
	KindBool    FieldKind = 1
	KindInt8    FieldKind = 2
	KindInt16   FieldKind = 3
	KindInt32   FieldKind = 4
	KindInt64   FieldKind = 5
	KindUint8   FieldKind = 6
	KindUint16  FieldKind = 7
	KindUint32  FieldKind = 8
	KindUint64  FieldKind = 9
	KindFloat32 FieldKind = 10
	KindFloat64 FieldKind = 11
	KindString  FieldKind = 12
	KindCString FieldKind = 13
	KindBytes   FieldKind = 14
)

// Field is a handle to one field of a data source's events.
type Field uint32

// scalarErr receives fieldGetScalar's error flag (the guest runs one call at a time).
var scalarErr uint32

func (f Field) scalar(d Data, kind FieldKind) (uint64, error) {
	if v, ok := fcScalarOf(f, d); ok {
		return v, nil
	}
	if v, ok := wbScalarOf(f, d); ok {
		return v, nil
	}
	scalarErr = 0
	v := fieldGetScalar(uint32(f), uint32(d), uint32(kind), uint32(uintptr(unsafe.Pointer(&scalarErr))))
	if scalarErr != 0 {
		return 0, fail("field get")
	}
	return v, nil
}

func (f Field) set(d Data, kind FieldKind, v uint64) error {
	if wbSetScalar(f, d, kind, v) {
		return nil
	}
	fcSet(f, d)
	return check(fieldSet(uint32(f), uint32(d), uint32(kind), v), "field set")
}

// setBuf sets a string, cstring or bytes field to v.
func (f Field) setBuf(d Data, kind FieldKind, v []byte) error {
	if wbSetBytes(f, d, kind, v) {
		return nil
	}
	fcSet(f, d)
	err := check(fieldSet(uint32(f), uint32(d), uint32(kind), bufArg(v)), "field set")
	keepBuf(v)
	return err
}

// Bool returns a bool field's value.
func (f Field) Bool(d Data) (bool, error) { v, err := f.scalar(d, KindBool); return v != 0, err }

// Int8 returns an int8 field's value.
func (f Field) Int8(d Data) (int8, error) { v, err := f.scalar(d, KindInt8); return int8(v), err }

// Int16 returns an int16 field's value.
func (f Field) Int16(d Data) (int16, error) { v, err := f.scalar(d, KindInt16); return int16(v), err }

// Int32 returns an int32 field's value.
func (f Field) Int32(d Data) (int32, error) { v, err := f.scalar(d, KindInt32); return int32(v), err }

// Int64 returns an int64 field's value.
func (f Field) Int64(d Data) (int64, error) { v, err := f.scalar(d, KindInt64); return int64(v), err }

// Uint8 returns a uint8 field's value.
func (f Field) Uint8(d Data) (uint8, error) { v, err := f.scalar(d, KindUint8); return uint8(v), err }

// Uint16 returns a uint16 field's value.
func (f Field) Uint16(d Data) (uint16, error) {
	v, err := f.scalar(d, KindUint16)
	return uint16(v), err
}

// Uint32 returns a uint32 field's value.
func (f Field) Uint32(d Data) (uint32, error) {
	v, err := f.scalar(d, KindUint32)
	return uint32(v), err
}

// Uint64 returns a uint64 field's value.
func (f Field) Uint64(d Data) (uint64, error) { return f.scalar(d, KindUint64) }

// Float32 returns a float32 field's value.
func (f Field) Float32(d Data) (float32, error) {
	v, err := f.scalar(d, KindFloat32)
	return math.Float32frombits(uint32(v)), err
}

// Float64 returns a float64 field's value.
func (f Field) Float64(d Data) (float64, error) {
	v, err := f.scalar(d, KindFloat64)
	return math.Float64frombits(v), err
}

// maxFieldBytes bounds the buffer BytesInto grows to on a host that answers a too-small
// buffer with an error instead of the length it needs (Inspektor Gadget's).
const maxFieldBytes = 1 << 20

// BytesInto reads a string, cstring or bytes field into buf (grown when too small) and
// returns the value, which aliases buf. Reusing buf across events avoids an allocation each.
// A cstring field of the kernel's record (char[N]) gives all N bytes, NULs included (String
// gives its text).
func (f Field) BytesInto(d Data, buf []byte) ([]byte, error) {
	v, ok := fcBytesOf(f, d, false)
	if !ok {
		v, ok = wbBytesOf(f, d)
	}
	if ok {
		if cap(buf) < len(v) {
			buf = make([]byte, len(v))
		}
		return append(buf[:0], v...), nil
	}
	return f.read(d, KindBytes, buf)
}

// TextInto reads a string or cstring field's text, String's value, into buf (grown when too
// small) and returns it, aliasing buf: String without an allocation.
func (f Field) TextInto(d Data, buf []byte) ([]byte, error) {
	v, ok := fcBytesOf(f, d, true)
	if !ok {
		v, ok = wbBytesOf(f, d)
	}
	if ok {
		if cap(buf) < len(v) {
			buf = make([]byte, len(v))
		}
		return append(buf[:0], v...), nil
	}
	b, err := f.read(d, KindString, buf)
	if err != nil || gadgetryHost {
		return b, err // this host cut a cstring at its NUL
	}
	for i, c := range b {
		if c == 0 {
			return b[:i], nil
		}
	}
	return b, nil
}

// read reads a field through the host as kind (bytes: a char[N] field's whole array; string:
// on a Gadgetry host, its text) into buf, grown when too small.
func (f Field) read(d Data, kind FieldKind, buf []byte) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 64)
	}
	buf = buf[:cap(buf)]
	for {
		n := fieldGetBuffer(uint32(f), uint32(d), uint32(kind), bufArg(buf))
		switch {
		case n >= 0 && int(n) <= len(buf):
			return buf[:n], nil
		case n >= 0:
			buf = make([]byte, n) // the host wrote nothing and told us the length
		case len(buf) < maxFieldBytes:
			// An error, or a host that says so of a too-small buffer (IG's): try larger.
			buf = make([]byte, 2*len(buf))
		default:
			return nil, fail("field get buffer")
		}
	}
}

// Bytes returns a bytes, string or cstring field's value in a new slice (of a char[N]
// field, all N bytes).
func (f Field) Bytes(d Data) ([]byte, error) {
	b, err := f.BytesInto(d, scratch[:])
	if err != nil {
		return nil, err
	}
	if unsafe.SliceData(b) != &scratch[0] {
		return b, nil // longer than scratch: BytesInto made a new slice
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out, nil
}

// String returns a string or cstring field's value. A cstring's value is its text, up to its
// first NUL; a string's is all its bytes (on a host other than Gadgetry, which cannot tell
// the two apart, the text up to the first NUL too, as Inspektor Gadget's SDK does).
func (f Field) String(d Data) (string, error) {
	if v, ok := fcBytesOf(f, d, true); ok {
		return string(v), nil
	}
	if v, ok := wbBytesOf(f, d); ok {
		return string(v), nil
	}
	b, err := f.read(d, KindString, scratch[:])
	if err != nil || gadgetryHost {
		return string(b), err // this host cut a cstring at its NUL
	}
	return cstring(b), nil
}

// SetBool sets a bool field.
func (f Field) SetBool(d Data, v bool) error {
	var u uint64
	if v {
		u = 1
	}
	return f.set(d, KindBool, u)
}

// SetInt8 sets an int8 field.
func (f Field) SetInt8(d Data, v int8) error { return f.set(d, KindInt8, uint64(v)) }

// SetInt16 sets an int16 field.
func (f Field) SetInt16(d Data, v int16) error { return f.set(d, KindInt16, uint64(v)) }

// SetInt32 sets an int32 field.
func (f Field) SetInt32(d Data, v int32) error { return f.set(d, KindInt32, uint64(v)) }

// SetInt64 sets an int64 field.
func (f Field) SetInt64(d Data, v int64) error { return f.set(d, KindInt64, uint64(v)) }

// SetUint8 sets a uint8 field.
func (f Field) SetUint8(d Data, v uint8) error { return f.set(d, KindUint8, uint64(v)) }

// SetUint16 sets a uint16 field.
func (f Field) SetUint16(d Data, v uint16) error { return f.set(d, KindUint16, uint64(v)) }

// SetUint32 sets a uint32 field.
func (f Field) SetUint32(d Data, v uint32) error { return f.set(d, KindUint32, uint64(v)) }

// SetUint64 sets a uint64 field.
func (f Field) SetUint64(d Data, v uint64) error { return f.set(d, KindUint64, v) }

// SetFloat32 sets a float32 field.
func (f Field) SetFloat32(d Data, v float32) error {
	return f.set(d, KindFloat32, uint64(math.Float32bits(v)))
}

// SetFloat64 sets a float64 field.
func (f Field) SetFloat64(d Data, v float64) error {
	return f.set(d, KindFloat64, math.Float64bits(v))
}

// SetString sets a string or cstring field.
func (f Field) SetString(d Data, v string) error {
	return f.setBuf(d, KindString, unsafe.Slice(unsafe.StringData(v), len(v)))
}

// SetStringBytes sets a string or cstring field to the text in v without converting v to a
// string (the host copies the bytes before it returns: v may be reused at once).
func (f Field) SetStringBytes(d Data, v []byte) error { return f.setBuf(d, KindString, v) }

// SetBytes sets a bytes field.
func (f Field) SetBytes(d Data, v []byte) error { return f.setBuf(d, KindBytes, v) }

// AddTag adds a tag to the field (e.g. "wasm"); tags classify fields for output.
func (f Field) AddTag(tag string) error {
	err := check(fieldAddTag(uint32(f), strArg(tag)), "field add tag")
	keepStr(tag)
	return err
}
