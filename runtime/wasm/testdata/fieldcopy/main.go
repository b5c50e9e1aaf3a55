// Guest fieldcopy reads fields of every kind through the SDK, which asks the host for the
// field copy by itself; it reports what it read in log lines "result <key>=<value>". With
// the parameter bad=true it also sends field-copy requests the host must refuse.
package main

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unsafe"

	api "github.com/gadgetry/gadgetry/wasmapi"
)

func result(key, v string) { api.Infof("result %s=%s", key, v) }

// reads lists the fields of data source "kinds" in the order they are read.
var reads = []struct {
	name  string
	kind  api.FieldKind
	f     api.Field
	label string // shown instead of name
}{
	{name: "b", kind: api.KindBool}, {name: "i8", kind: api.KindInt8}, {name: "i16", kind: api.KindInt16},
	{name: "i32", kind: api.KindInt32}, {name: "i64", kind: api.KindInt64}, {name: "u8", kind: api.KindUint8},
	{name: "u16", kind: api.KindUint16}, {name: "u32", kind: api.KindUint32}, {name: "u64", kind: api.KindUint64},
	{name: "f32", kind: api.KindFloat32}, {name: "f64", kind: api.KindFloat64},
	{name: "u32alias", kind: api.KindUint32},
	{name: "str", kind: api.KindString}, {name: "cstr", kind: api.KindCString},
	{name: "cstr", kind: api.KindBytes, label: "cstr.bytes"}, {name: "bytes", kind: api.KindBytes},
	{name: "extra", kind: api.KindString}, {name: "long", kind: api.KindCString},
}

var (
	field                = map[string]api.Field{}
	out, pid, comm       api.Field
	tag, twice           api.Field // added to events, set on every event kept
	longBuf              = make([]byte, 8192)
	badBuf               []uint64 // the buffer of the refused requests: must stay zero
	kinds, events, array api.DataSource
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func init() {
	api.OnInit(func() error {
		var err error
		kinds, err = api.GetDataSource("kinds")
		must(err)
		for i := range reads {
			reads[i].f, err = kinds.GetField(reads[i].name)
			must(err)
			field[reads[i].name] = reads[i].f
		}
		out, err = kinds.AddField("out", api.KindString)
		must(err)
		must(kinds.Subscribe(onKinds, 0))
		events, err = api.GetDataSource("events")
		must(err)
		pid, err = events.GetField("pid")
		must(err)
		comm, err = events.GetField("comm")
		must(err)
		tag, err = events.AddField("tag", api.KindString)
		must(err)
		twice, err = events.AddField("twice", api.KindUint64)
		must(err)
		must(events.Subscribe(onEvents, 0))
		array, err = api.GetDataSource("arr")
		must(err)
		v, _ := api.GetParamValue("bench")
		bench = v == "true"
		if v, _ := api.GetParamValue("bad"); v == "true" {
			badRequests()
		}
		return nil
	})
}

// read returns the values of every field of reads, formatted.
func read(d api.Data) string {
	var b strings.Builder
	for _, r := range reads {
		if r.label != "" {
			b.WriteString(r.label)
		} else {
			b.WriteString(r.name)
		}
		b.WriteByte('=')
		b.WriteString(value(r.f, r.kind, d))
		b.WriteByte(' ')
	}
	return b.String()
}

func value(f api.Field, k api.FieldKind, d api.Data) string {
	var s string
	var err error
	switch k {
	case api.KindBool:
		var v bool
		v, err = f.Bool(d)
		s = strconv.FormatBool(v)
	case api.KindInt8:
		var v int8
		v, err = f.Int8(d)
		s = strconv.Itoa(int(v))
	case api.KindInt16:
		var v int16
		v, err = f.Int16(d)
		s = strconv.Itoa(int(v))
	case api.KindInt32:
		var v int32
		v, err = f.Int32(d)
		s = strconv.Itoa(int(v))
	case api.KindInt64:
		var v int64
		v, err = f.Int64(d)
		s = strconv.FormatInt(v, 10)
	case api.KindUint8:
		var v uint8
		v, err = f.Uint8(d)
		s = strconv.Itoa(int(v))
	case api.KindUint16:
		var v uint16
		v, err = f.Uint16(d)
		s = strconv.Itoa(int(v))
	case api.KindUint32:
		var v uint32
		v, err = f.Uint32(d)
		s = strconv.FormatUint(uint64(v), 10)
	case api.KindUint64:
		var v uint64
		v, err = f.Uint64(d)
		s = strconv.FormatUint(v, 10)
	case api.KindFloat32:
		var v float32
		v, err = f.Float32(d)
		s = strconv.FormatUint(uint64(math.Float32bits(v)), 16)
	case api.KindFloat64:
		var v float64
		v, err = f.Float64(d)
		s = strconv.FormatUint(math.Float64bits(v), 16)
	case api.KindBytes:
		var v []byte
		v, err = f.Bytes(d)
		s = hex.EncodeToString(v)
	default:
		if f == field["long"] {
			var v []byte
			v, err = f.BytesInto(d, longBuf) // room enough: one host call when not copied
			s = strconv.Itoa(len(v)) + ":" + strconv.Quote(string(v[:3])+string(v[len(v)-3:]))
		} else {
			s, err = f.String(d)
			s = strconv.Quote(s)
		}
	}
	if err != nil {
		return "error"
	}
	return s
}

// bench makes the callback read every field and do nothing else (the host's benchmark).
var bench bool

// readAll reads every field as a gadget would, keeping nothing.
func readAll(d api.Data) {
	for _, r := range reads {
		switch r.kind {
		case api.KindString, api.KindCString, api.KindBytes:
			longBuf, _ = r.f.BytesInto(d, longBuf)
		default:
			r.f.Uint64(d)
		}
	}
}

func onKinds(_ api.DataSource, d api.Data) error {
	if bench {
		readAll(d)
		return nil
	}
	result("values", read(d))
	// A Set makes the field's copy stale: the next read asks the host.
	u64 := field["u64"]
	before, _ := u64.Uint64(d)
	must(u64.SetUint64(d, before+1))
	after, _ := u64.Uint64(d)
	result("set.u64", strconv.FormatUint(before, 10)+","+strconv.FormatUint(after, 10))
	must(field["cstr"].SetString(d, "changed"))
	result("set.cstr", value(field["cstr"], api.KindCString, d))
	// Setting a field the module added changes no copied field.
	must(out.SetString(d, "out"))
	result("after.out", value(field["u16"], api.KindUint16, d))
	// u32alias shares u32's bytes: setting it makes every copy stale.
	must(field["u32alias"].SetUint32(d, 7))
	result("set.alias", value(field["u32"], api.KindUint32, d)+","+value(field["u8"], api.KindUint8, d))
	if badBuf != nil {
		result("bad.untouched", strconv.FormatBool(zero(badBuf)))
	}
	return nil
}

// seen and sum count the events kept (their pids added up); an event whose comm is "drop"
// is dropped.
var seen, sum uint64

func onEvents(_ api.DataSource, d api.Data) error {
	p, _ := pid.Uint32(d)
	c, _ := comm.String(d)
	result("event", strconv.FormatUint(uint64(p), 10)+","+c)
	if c == "drop" {
		return api.ErrDrop
	}
	seen++
	sum += uint64(p)
	result("events.kept", strconv.FormatUint(seen, 10)+","+strconv.FormatUint(sum, 10))
	// Fields the module added, set on the event and read back (from the write-back where the
	// host takes one).
	want := "k" + strconv.FormatUint(uint64(p), 10)
	must(tag.SetString(d, "x"))
	must(tag.SetString(d, want))
	must(twice.SetUint64(d, 2*uint64(p)))
	gotTag, _ := tag.String(d)
	gotTwice, _ := twice.Uint64(d)
	if gotTag != want || gotTwice != 2*uint64(p) {
		readBackOK = false
	}
	result("events.readback", strconv.FormatBool(readBackOK))
	return nil
}

// readBackOK: every event's added fields read back as set.
var readBackOK = true

func zero(b []uint64) bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

// badRequests sends requests the host must refuse, each naming badBuf, and reports whether
// the host wrote into it (it must not).
func badRequests() {
	badBuf = make([]uint64, 1024)
	ptr := uint64(uintptr(unsafe.Pointer(&badBuf[0])))
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	ok := "v1 ds=" + u(uint64(kinds)) + " buf=" + u(ptr) + "+8192 fields=" + u(uint64(field["u32"]))
	for _, c := range []struct{ name, req string }{
		{"outside", "v1 ds=" + u(uint64(kinds)) + " buf=4294963200+8192 fields=" + u(uint64(field["u32"]))},
		{"huge", "v1 ds=" + u(uint64(kinds)) + " buf=" + u(ptr) + "+4294967295 fields=" + u(uint64(field["u32"]))},
		{"foreign", "v1 ds=" + u(uint64(kinds)) + " buf=" + u(ptr) + "+8192 fields=" + u(uint64(field["u32"])) + "," + u(uint64(pid))},
		{"notfield", "v1 ds=" + u(uint64(kinds)) + " buf=" + u(ptr) + "+8192 fields=" + u(uint64(kinds))},
		{"array", "v1 ds=" + u(uint64(array)) + " buf=" + u(ptr) + "+8192 fields=" + u(uint64(field["u32"]))},
		{"small", "v1 ds=" + u(uint64(kinds)) + " buf=" + u(ptr) + "+16 fields=" + u(uint64(field["u32"]))},
		{"unaligned", "v1 ds=" + u(uint64(kinds)) + " buf=" + u(ptr+4) + "+8192 fields=" + u(uint64(field["u32"]))},
		{"version", strings.Replace(ok, "v1", "v2", 1)},
	} {
		err := api.SetConfig("gadgetry.fieldcopy", c.req)
		r := "accepted"
		if err != nil {
			r = "refused"
		}
		result("bad."+c.name, r+","+strconv.FormatBool(zero(badBuf)))
	}
}

func main() {}
