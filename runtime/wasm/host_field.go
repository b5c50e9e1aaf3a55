package wasm

import (
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/tetratelabs/wazero/api"
)

// fieldData resolves a field and a data handle and checks they belong together.
func (i *Instance) fieldData(fn string, fh, dh uint32) (*datasource.Field, *datasource.Data, bool) {
	fe, ok := i.handle(fn, fh, kField)
	if !ok {
		return nil, nil, false
	}
	de, ok := i.handle(fn, dh, kData)
	if !ok {
		return nil, nil, false
	}
	f := fe.obj.(*datasource.Field)
	if f.DataSource() != de.ds {
		i.bad(fn, "field %q belongs to data source %q, the data to %q", f.Name, f.DataSource().Name, de.ds.Name)
		return nil, nil, false
	}
	return f, de.obj.(*datasource.Data), true
}

// fieldBytes returns what fieldGetBuffer gives the guest of a string, cstring or bytes field
// read as kind k. A char[N] field of the record (a static cstring) gives its whole array,
// NULs included, as Inspektor Gadget's host does: IG's trace_exec guest splits argv on them,
// and IG's SDK cuts the text at the first NUL itself. Gadgetry's SDK from v0.5.0 (it announced
// itself) reads the text with kind string and the array with kind bytes; v0.3.0 and v0.4.0
// (a field copy asked for without an announcement) get the text, which their String returns
// as is.
func (i *Instance) fieldBytes(f *datasource.Field, d *datasource.Data, k datasource.Kind) []byte {
	if i.legacyFC || (i.sdk != "" && k != datasource.KindBytes) {
		return f.Bytes(d)
	}
	return wholeBytes(f, d)
}

// wholeBytes returns a field's bytes, the whole array of a char[N] field of the record.
func wholeBytes(f *datasource.Field, d *datasource.Data) []byte {
	if f.Kind == datasource.KindCString && f.Static() {
		if end := f.Offset() + f.Size(); end <= len(d.Raw) {
			return d.Raw[f.Offset():end]
		}
		return nil
	}
	return f.Bytes(d)
}

func isBuffer(k datasource.Kind) bool {
	return k == datasource.KindString || k == datasource.KindCString || k == datasource.KindBytes
}

func init() {
	register("fieldGetScalar", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "fieldGetScalar"
		fh, dh, k, errPtr := uint32(s[0]), uint32(s[1]), datasource.Kind(uint32(s[2])), uint32(s[3])
		s[0] = 0
		fail := func() {
			if errPtr != 0 && !mod.Memory().WriteUint32Le(errPtr, 1) {
				i.bad(fn, "error pointer %#x lies outside guest memory", errPtr)
			}
		}
		f, d, ok := i.fieldData(fn, fh, dh)
		if !ok {
			fail()
			return
		}
		if !k.Scalar() || !f.Kind.Scalar() {
			i.bad(fn, "field %q is %s, read as %s: fieldGetScalar reads numbers and bools", f.Name, f.Kind, k)
			fail()
			return
		}
		s[0] = f.Uint(d)
	})
	register("fieldGetBuffer", []api.ValueType{i32, i32, i32, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "fieldGetBuffer"
		fh, dh, k, dst := uint32(s[0]), uint32(s[1]), datasource.Kind(uint32(s[2])), s[3]
		s[0] = uint64(uint32(0xffffffff)) // -1
		f, d, ok := i.fieldData(fn, fh, dh)
		if !ok {
			return
		}
		if !isBuffer(f.Kind) || !isBuffer(k) {
			i.bad(fn, "field %q is %s, read as %s: fieldGetBuffer reads strings and bytes", f.Name, f.Kind, k)
			return
		}
		b, ok := i.read(mod, fn, dst)
		if !ok {
			return
		}
		v := i.fieldBytes(f, d, k)
		if len(v) <= len(b) {
			copy(b, v)
			s[0] = uint64(uint32(len(v)))
			return
		}
		// Too long: nothing written. Gadgetry's SDK learns the length it needs; other guests
		// get -1, as from Inspektor Gadget's host (their getters take the result for the
		// number of bytes written).
		if i.sdk != "" || i.legacyFC {
			s[0] = uint64(uint32(len(v)))
			return
		}
		i.bad(fn, "field %q: its value is %d bytes, the buffer holds %d", f.Name, len(v), len(b))
	})
	register("fieldSet", []api.ValueType{i32, i32, i32, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "fieldSet"
		fh, dh, k, v := uint32(s[0]), uint32(s[1]), datasource.Kind(uint32(s[2])), s[3]
		s[0] = 1
		f, d, ok := i.fieldData(fn, fh, dh)
		if !ok {
			return
		}
		var err error
		switch {
		case k.Scalar() && f.Kind.Scalar():
			err = f.SetUint(d, v)
		case isBuffer(k) && isBuffer(f.Kind):
			b, ok := i.read(mod, fn, v)
			if !ok {
				return
			}
			err = f.SetBytes(d, b)
		default:
			i.bad(fn, "field %q is %s, set as %s", f.Name, f.Kind, k)
			return
		}
		if err != nil {
			i.bad(fn, "%v", err)
			return
		}
		s[0] = 0
	})
	register("fieldAddTag", []api.ValueType{i32, i64}, []api.ValueType{i32}, func(i *Instance, mod api.Module, s []uint64) {
		const fn = "fieldAddTag"
		fh, packed := uint32(s[0]), s[1]
		s[0] = 1
		fe, ok := i.handle(fn, fh, kField)
		if !ok {
			return
		}
		tag, ok := i.nonEmpty(mod, fn, packed)
		if !ok {
			return
		}
		f := fe.obj.(*datasource.Field)
		f.Tags = append(f.Tags, tag)
		s[0] = 0
	})
}
