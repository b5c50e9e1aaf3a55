// Package decode turns the BTF description of a tracer's C struct into a data source whose
// static fields sit at the struct members' offsets, so a kernel record is decoded by reading it
// in place. No gadget-specific code: every gadget's records are described by their BTF.
package decode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// ArrayAnnotation is set on fields decoded from C arrays of numbers; its value is the element
// kind ("uint16"), and the field's bytes hold the elements.
const ArrayAnnotation = "decode.array"

// HistogramSlotU32 and HistogramSlotU64 are the typedefs of a log2 histogram's slots (the
// names Inspektor Gadget's gadgets use): a field that is an array of them is a histogram, its
// Type the typedef, whose slot 0 counts the values 0 and 1 and slot i the values from 2^i to
// 2^(i+1)-1 (log2 of the value, as <gadget/bits.bpf.h>'s log2l gives it).
const (
	HistogramSlotU32 = "gadget_histogram_slot__u32"
	HistogramSlotU64 = "gadget_histogram_slot__u64"
)

// RawSuffix marks a field whose formatted value gets its own sibling field: `foo_raw` is hidden
// and `foo` (a string) is filled with its formatted text by the runtime.
const RawSuffix = "_raw"

// ErrUnsupported is returned for struct members the decoder cannot represent.
var ErrUnsupported = errors.New("unsupported member type")

// DataSource builds the data source `name` for records of struct st.
// Nested structs become dotted names (proc.parent.pid); members whose name starts with "__" are
// hidden; `foo_raw` members are hidden and get a formatted string sibling `foo` (an added field).
func DataSource(name string, st *btf.Struct) (*datasource.DataSource, error) {
	return structDataSource(name, datasource.TypeSingle, st)
}

// Array builds the array data source `name` for records of struct st, with the fields
// DataSource would give them: an iterator's snapshot is an array of such records.
func Array(name string, st *btf.Struct) (*datasource.DataSource, error) {
	return structDataSource(name, datasource.TypeArray, st)
}

// KeyValue builds the array data source `name` for the entries of a map whose keys have type
// key and values type value. A record is the key's bytes followed by the value's bytes. The
// members of a struct key and of a struct value are flattened side by side into top-level
// fields (key {pid, comm} and value {count} give the fields pid, comm and count), so a key and
// a value struct must not share a member name; a key or value that is not a struct is one
// field named "key" or "value".
func KeyValue(name string, key, value btf.Type) (*datasource.DataSource, error) {
	ksize, err := btf.Sizeof(key)
	if err != nil {
		return nil, fmt.Errorf("map key: %w", err)
	}
	vsize, err := btf.Sizeof(value)
	if err != nil {
		return nil, fmt.Errorf("map value: %w", err)
	}
	ds := datasource.New(name, datasource.TypeArray, ksize+vsize)
	for _, part := range []struct {
		what string
		t    btf.Type
		off  int
	}{{"key", key, 0}, {"value", value, ksize}} {
		if c := btf.UnderlyingType(part.t); isComposite(c) {
			err = addMembers(ds, "", c, part.off, false)
		} else {
			err = addMember(ds, part.what, part.t, part.off, false)
		}
		if err != nil {
			return nil, fmt.Errorf("map %s %s: %w (key and value members are flattened into one record: give them distinct names)", part.what, typeName(part.t), err)
		}
	}
	if err := addRawSiblings(ds); err != nil {
		return nil, err
	}
	watchEndpoints(ds)
	return ds, nil
}

func typeName(t btf.Type) string {
	if t.TypeName() != "" {
		return t.TypeName()
	}
	return fmt.Sprint(t)
}

func structDataSource(name string, typ datasource.Type, st *btf.Struct) (*datasource.DataSource, error) {
	ds := datasource.New(name, typ, int(st.Size))
	if err := addMembers(ds, "", st, 0, false); err != nil {
		return nil, fmt.Errorf("struct %s: %w", st.Name, err)
	}
	if err := addRawSiblings(ds); err != nil {
		return nil, err
	}
	if err := addUserStackFields(ds, "", st); err != nil {
		return nil, err
	}
	watchEndpoints(ds)
	return ds, nil
}

// UserStackStruct is the struct of a user stack a gadget records (<gadget/user_stack_map.h>).
const UserStackStruct = "gadget_user_stack"

// UserStackFields are the text fields Inspektor Gadget's stack operator adds to each
// struct gadget_user_stack member: the stack's addresses, their build ids and symbols.
// Gadgetry does not symbolize stacks: they are "" in JSON, as in ig for a record without a
// user stack, and hidden from tables.
var UserStackFields = []string{"addresses", "buildid", "symbols"}

// addUserStackFields adds UserStackFields under each struct gadget_user_stack member of st
// (named prefix+member), those inside "__" members left out.
func addUserStackFields(ds *datasource.DataSource, prefix string, st *btf.Struct) error {
	for _, m := range st.Members {
		if m.BitfieldSize != 0 || strings.HasPrefix(m.Name, "__") {
			continue
		}
		inner, ok := btf.UnderlyingType(m.Type).(*btf.Struct)
		if !ok {
			continue
		}
		name := prefix + m.Name
		if m.Name == "" {
			name = strings.TrimSuffix(prefix, ".")
		}
		if inner.Name != UserStackStruct {
			p := name + "."
			if name == "" {
				p = ""
			}
			if err := addUserStackFields(ds, p, inner); err != nil {
				return err
			}
			continue
		}
		for _, sub := range UserStackFields {
			if ds.Field(name+"."+sub) != nil {
				continue
			}
			f, err := ds.AddField(name+"."+sub, datasource.KindString)
			if err != nil {
				return err
			}
			f.Annotations["columns.hidden"] = "true"
			f.Annotations["value.unset"] = "zero" // format.UnsetAnnotation: "" when unset
		}
	}
	return nil
}

// addRawSiblings hides each static `foo_raw` field and adds its formatted sibling `foo`.
func addRawSiblings(ds *datasource.DataSource) error {
	for _, f := range ds.Fields() {
		if !f.Static() || !strings.HasSuffix(f.Name, RawSuffix) {
			continue
		}
		sib := strings.TrimSuffix(f.Name, RawSuffix)
		if ds.Field(sib) != nil {
			continue
		}
		// A raw field inside a "__" struct is hidden, and so is what is made from it.
		hidden := f.Hidden
		f.Hidden = true
		s, err := ds.AddField(sib, datasource.KindString)
		if err != nil {
			return err
		}
		s.Hidden = hidden
		s.Type = f.Type
		s.Annotations[rawAnnotation] = f.Name
	}
	return nil
}

// EnumNameAnnotation (Inspektor Gadget's ebpf.formatter.enum), on an enum field, names a
// string field added beside it that holds the enumerator's name, as ig adds it; the enum
// field is then a number in JSON, as in ig. gadget.yaml sets it.
const EnumNameAnnotation = "ebpf.formatter.enum"

// enumAnnotation, on a field AddEnumNames added, names the enum field it is made from.
const enumAnnotation = "decode.enum"

// AddEnumNames adds the name field of each enum field of ds that has EnumNameAnnotation (and
// no field of that name already). The name field is hidden from tables, where the enum field
// shows the name itself.
func AddEnumNames(ds *datasource.DataSource) error {
	for _, f := range ds.Fields() {
		target := f.Annotations[EnumNameAnnotation]
		if target == "" || f.Enum == nil || !f.Kind.Scalar() || ds.Field(target) != nil {
			continue
		}
		n, err := ds.AddField(target, datasource.KindString)
		if err != nil {
			return fmt.Errorf("field %s: %s %q: %w", f.Name, EnumNameAnnotation, target, err)
		}
		n.Hidden = f.Hidden
		n.Annotations["columns.hidden"] = "true"
		n.Annotations[enumAnnotation] = f.Name
	}
	return nil
}

// EnumSource returns the enum field a name field added by AddEnumNames is made from, or nil.
func EnumSource(f *datasource.Field) *datasource.Field {
	n := f.Annotations[enumAnnotation]
	if n == "" {
		return nil
	}
	return f.DataSource().Field(n)
}

// rawAnnotation, on a formatted `foo` field, names the `foo_raw` field it is made from.
const rawAnnotation = "decode.raw"

// RawSource returns the `foo_raw` field a formatted `foo` field is made from, or nil.
func RawSource(f *datasource.Field) *datasource.Field {
	n := f.Annotations[rawAnnotation]
	if n == "" {
		return nil
	}
	return f.DataSource().Field(n)
}

// FormattedSibling returns the formatted `foo` field made from a `foo_raw` field, or nil when
// f is not such a raw field. The raw field then carries the plain value (a number), the
// sibling its meaning (a time, an errno name).
func FormattedSibling(f *datasource.Field) *datasource.Field {
	if !strings.HasSuffix(f.Name, RawSuffix) || f.DataSource() == nil {
		return nil
	}
	sib := f.DataSource().Field(strings.TrimSuffix(f.Name, RawSuffix))
	if sib == nil || sib.Annotations[rawAnnotation] != f.Name {
		return nil
	}
	return sib
}

func addMembers(ds *datasource.DataSource, prefix string, st composite, base int, hidden bool) error {
	var members []btf.Member
	switch s := st.(type) {
	case *btf.Struct:
		members = s.Members
	case *btf.Union:
		members = s.Members
	}
	for _, m := range members {
		if m.BitfieldSize != 0 {
			// Bitfields are not addressable bytes; skip rather than show garbage.
			continue
		}
		name := m.Name
		h := hidden || strings.HasPrefix(name, "__")
		off := base + int(m.Offset.Bytes())
		if name == "" {
			// Anonymous struct/union: its members belong to the parent.
			if c := btf.UnderlyingType(m.Type); isComposite(c) {
				if err := addMembers(ds, prefix, c, off, h); err != nil {
					return err
				}
			}
			continue
		}
		full := prefix + name
		if err := addMember(ds, full, m.Type, off, h); err != nil {
			return err
		}
	}
	return nil
}

func addMember(ds *datasource.DataSource, name string, t btf.Type, off int, hidden bool) error {
	typedef := ""
	// Walk qualifiers and typedefs, remembering the first gadget_* typedef.
	for {
		switch tt := t.(type) {
		case *btf.Typedef:
			if typedef == "" && strings.HasPrefix(tt.Name, "gadget_") {
				typedef = tt.Name
			}
			t = tt.Type
			continue
		case *btf.Volatile:
			t = tt.Type
			continue
		case *btf.Const:
			t = tt.Type
			continue
		case *btf.Restrict:
			t = tt.Type
			continue
		case *btf.TypeTag:
			t = tt.Type
			continue
		}
		break
	}
	add := func(kind datasource.Kind, size int) (*datasource.Field, error) {
		f, err := ds.AddStaticField(name, kind, off, size)
		if err != nil {
			return nil, err
		}
		f.Type = typedef
		f.Hidden = hidden
		f.Tags = append(f.Tags, "kernel")
		return f, nil
	}
	switch tt := t.(type) {
	case *btf.Union:
		if tt.Name == ipAddrUnion {
			return addIPAddr(ds, name, off, hidden)
		}
	case *btf.Struct:
		if tt.Name == l3Endpoint || tt.Name == l4Endpoint {
			return addEndpoint(ds, name, tt, off, hidden)
		}
	}
	switch tt := t.(type) {
	case *btf.Int:
		if tt.Size > 8 {
			// unsigned __int128 and the like: their bytes.
			f, err := add(datasource.KindBytes, int(tt.Size))
			if err == nil {
				f.Annotations[ArrayAnnotation] = datasource.KindUint8.String()
			}
			return err
		}
		_, err := add(intKind(tt), int(tt.Size))
		return err
	case *btf.Enum:
		k := datasource.KindUint32
		switch tt.Size {
		case 1:
			k = datasource.KindUint8
		case 2:
			k = datasource.KindUint16
		case 8:
			k = datasource.KindUint64
		}
		if tt.Signed {
			k = signed(k)
		}
		f, err := add(k, int(tt.Size))
		if err != nil {
			return err
		}
		f.Enum = make(map[int64]string, len(tt.Values))
		for _, v := range tt.Values {
			f.Enum[int64(v.Value)] = v.Name
		}
		if f.Type == "" {
			f.Type = "enum " + tt.Name
		}
		return nil
	case *btf.Float:
		k := datasource.KindFloat64
		if tt.Size == 4 {
			k = datasource.KindFloat32
		}
		_, err := add(k, int(tt.Size))
		return err
	case *btf.Pointer:
		_, err := add(datasource.KindUint64, 8)
		return err
	case *btf.Struct, *btf.Union:
		return addMembers(ds, name+".", tt, off, hidden)
	case *btf.Array:
		elem := btf.UnderlyingType(tt.Type)
		size, err := btf.Sizeof(tt)
		if err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		if i, ok := elem.(*btf.Int); ok && i.Size == 1 && (i.Encoding&btf.Char != 0 || i.Name == "char" || typedef == "gadget_comm") {
			_, err := add(datasource.KindCString, size)
			return err
		}
		if i, ok := elem.(*btf.Int); ok {
			f, err := add(datasource.KindBytes, size)
			if err != nil {
				return err
			}
			f.Annotations[ArrayAnnotation] = intKind(i).String()
			if td, ok := tt.Type.(*btf.Typedef); ok && (td.Name == HistogramSlotU32 || td.Name == HistogramSlotU64) {
				f.Type = td.Name
			}
			return nil
		}
		if e, ok := elem.(*btf.Enum); ok {
			f, err := add(datasource.KindBytes, size)
			if err != nil {
				return err
			}
			f.Annotations[ArrayAnnotation] = intKind(&btf.Int{Size: e.Size}).String()
			return nil
		}
		// Arrays of structs: one dotted prefix per element.
		if c := elem; isComposite(c) {
			esize, err := btf.Sizeof(c)
			if err != nil {
				return fmt.Errorf("member %s: %w", name, err)
			}
			for i := 0; i < int(tt.Nelems); i++ {
				if err := addMembers(ds, fmt.Sprintf("%s.%d.", name, i), c, off+i*esize, hidden); err != nil {
					return err
				}
			}
			return nil
		}
		_, err = add(datasource.KindBytes, size)
		return err
	}
	return fmt.Errorf("member %s: %w %T", name, ErrUnsupported, t)
}

// composite is a struct or a union.
type composite = btf.Type

func isComposite(t btf.Type) bool {
	switch t.(type) {
	case *btf.Struct, *btf.Union:
		return true
	}
	return false
}

func intKind(i *btf.Int) datasource.Kind {
	if i.Encoding&btf.Bool != 0 {
		return datasource.KindBool
	}
	var k datasource.Kind
	switch i.Size {
	case 1:
		k = datasource.KindUint8
	case 2:
		k = datasource.KindUint16
	case 4:
		k = datasource.KindUint32
	default:
		k = datasource.KindUint64
	}
	if i.Encoding&btf.Signed != 0 {
		k = signed(k)
	}
	return k
}

func signed(k datasource.Kind) datasource.Kind {
	switch k {
	case datasource.KindUint8:
		return datasource.KindInt8
	case datasource.KindUint16:
		return datasource.KindInt16
	case datasource.KindUint32:
		return datasource.KindInt32
	case datasource.KindUint64:
		return datasource.KindInt64
	}
	return k
}
