package wasm

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/tetratelabs/wazero/api"
)

// kindsFields is the record of data source "kinds" of testdata/fieldcopy: a field of every
// kind, u32alias over u32's bytes, and a cstring longer than the guest's buffer.
var kindsFields = []struct {
	name      string
	kind      datasource.Kind
	off, size int
}{
	{"b", datasource.KindBool, 0, 1}, {"i8", datasource.KindInt8, 1, 1}, {"i16", datasource.KindInt16, 2, 2},
	{"i32", datasource.KindInt32, 4, 4}, {"i64", datasource.KindInt64, 8, 8}, {"u8", datasource.KindUint8, 16, 1},
	{"u16", datasource.KindUint16, 18, 2}, {"u32", datasource.KindUint32, 20, 4}, {"u64", datasource.KindUint64, 24, 8},
	{"f32", datasource.KindFloat32, 32, 4}, {"f64", datasource.KindFloat64, 40, 8},
	{"u32alias", datasource.KindUint32, 20, 4},
	{"str", datasource.KindString, 48, 8}, {"cstr", datasource.KindCString, 56, 16}, {"bytes", datasource.KindBytes, 72, 8},
	{"long", datasource.KindCString, 80, 6001},
}

// kindsRecord are the values of record n.
type kindsRecord struct {
	b     bool
	i8    int8
	i16   int16
	i32   int32
	i64   int64
	u8    uint8
	u16   uint16
	u32   uint32
	u64   uint64
	f32   float32
	f64   float64
	str   []byte // 8 bytes: a static string keeps its zeros
	cstr  string
	bytes []byte
	extra string
	long  string
}

func newKindsRecord(n int) kindsRecord {
	return kindsRecord{
		b: n%2 == 1, i8: int8(-8 * n), i16: int16(-1600 * n), i32: int32(-320000 * n), i64: -(1 << 40) * int64(n),
		u8: uint8(200 + n), u16: uint16(60000 + n), u32: uint32(4000000000 + n), u64: 1<<63 + uint64(n),
		f32: 1.5 * float32(n), f64: -2.25 * float64(n),
		str: []byte{'s', byte('0' + n), 0, 'z', 0, 0, 0, 0}, cstr: "comm-" + strconv.Itoa(n),
		bytes: []byte{byte(n), 0, 2, 3, 0xff, 5, 6, 7}, extra: "extra-" + strconv.Itoa(n),
		long: "L" + strconv.Itoa(n) + strings.Repeat("x", 5994) + "end",
	}
}

// values is what the guest reports as "values" for r (its formatting). A char[N] field read
// as a string is its text; read as bytes (cstr.bytes, long) it is the whole array, NULs
// included, as Inspektor Gadget's host gives it.
func (r kindsRecord) values() string {
	long := make([]byte, 6001)
	copy(long, r.long)
	cstr := make([]byte, 16)
	copy(cstr, r.cstr)
	return fmt.Sprintf("b=%t i8=%d i16=%d i32=%d i64=%d u8=%d u16=%d u32=%d u64=%d f32=%x f64=%x u32alias=%d str=%s cstr=%s cstr.bytes=%s bytes=%s extra=%s long=%d:%s ",
		r.b, r.i8, r.i16, r.i32, r.i64, r.u8, r.u16, r.u32, r.u64, math.Float32bits(r.f32), math.Float64bits(r.f64), r.u32,
		strconv.Quote(string(r.str)), strconv.Quote(r.cstr), hex.EncodeToString(cstr), hex.EncodeToString(r.bytes), strconv.Quote(r.extra),
		len(long), strconv.Quote(string(long[:3])+string(long[len(long)-3:])))
}

// kindsRun is a fakeRun with data source "kinds" (and "events", "arr").
type kindsRun struct {
	*fakeRun
	kinds *datasource.DataSource
	f     map[string]*datasource.Field
}

func newKindsRun(t testing.TB, params map[string]string) *kindsRun {
	p := map[string]string{"bad": "false", "bench": "false"}
	for k, v := range params {
		p[k] = v
	}
	r := &kindsRun{fakeRun: newFakeRun(t, p), f: map[string]*datasource.Field{}}
	r.kinds = datasource.New("kinds", datasource.TypeSingle, 80+6001)
	for _, x := range kindsFields {
		f, err := r.kinds.AddStaticField(x.name, x.kind, x.off, x.size)
		if err != nil {
			t.Fatal(err)
		}
		r.f[x.name] = f
	}
	// A field added before the guest runs (as enrichment adds them): not in the raw record.
	extra, err := r.kinds.AddField("extra", datasource.KindString)
	if err != nil {
		t.Fatal(err)
	}
	r.f["extra"] = extra
	r.ds["kinds"] = r.kinds
	return r
}

func (r *kindsRun) emitKinds(t testing.TB, n int) kindsRecord {
	t.Helper()
	v, d := r.newKinds(t, n)
	if _, err := r.kinds.Emit(d); err != nil {
		t.Fatal(err)
	}
	return v
}

// newKinds returns record n.
func (r *kindsRun) newKinds(t testing.TB, n int) (kindsRecord, *datasource.Data) {
	t.Helper()
	v := newKindsRecord(n)
	d := r.kinds.NewData()
	set := func(name string, u uint64) {
		if err := r.f[name].SetUint(d, u); err != nil {
			t.Fatal(err)
		}
	}
	set("b", map[bool]uint64{false: 0, true: 1}[v.b])
	set("i8", uint64(v.i8))
	set("i16", uint64(v.i16))
	set("i32", uint64(v.i32))
	set("i64", uint64(v.i64))
	set("u8", uint64(v.u8))
	set("u16", uint64(v.u16))
	set("u32", uint64(v.u32))
	set("u64", v.u64)
	set("f32", uint64(math.Float32bits(v.f32)))
	set("f64", math.Float64bits(v.f64))
	for name, b := range map[string][]byte{"str": v.str, "cstr": []byte(v.cstr), "bytes": v.bytes, "extra": []byte(v.extra), "long": []byte(v.long)} {
		if err := r.f[name].SetBytes(d, b); err != nil {
			t.Fatal(err)
		}
	}
	return v, d
}

// hostCalls counts the guest's calls of fieldGetScalar and fieldGetBuffer.
type hostCalls struct{ scalar, buffer, set atomic.Int64 }

// wrapHostFunc replaces host function name with wrap(the current one) for engines created
// until the test ends.
func wrapHostFunc(t testing.TB, name string, wrap func(next hostFunc) func(*Instance, api.Module, []uint64)) {
	t.Helper()
	next := hostFuncs[name]
	hostFuncs[name] = hostFunc{next.params, next.results, wrap(next)}
	t.Cleanup(func() { hostFuncs[name] = next })
}

func countHostCalls(t *testing.T) *hostCalls {
	c := &hostCalls{}
	for name, n := range map[string]*atomic.Int64{"fieldGetScalar": &c.scalar, "fieldGetBuffer": &c.buffer, "fieldSet": &c.set} {
		wrapHostFunc(t, name, func(next hostFunc) func(*Instance, api.Module, []uint64) {
			return func(i *Instance, mod api.Module, s []uint64) {
				n.Add(1)
				next.fn(i, mod, s)
			}
		})
	}
	return c
}

// withoutWriteBack makes the host's version 2 acknowledgements offer no write-back, as
// Gadgetry's before SDK v0.6.0 (whose capabilities word is 0).
func withoutWriteBack(t testing.TB) {
	wrapHostFunc(t, "setConfig", func(next hostFunc) func(*Instance, api.Module, []uint64) {
		return func(i *Instance, mod api.Module, s []uint64) {
			key, _ := i.str(mod, "setConfig", s[0])
			value, _ := i.str(mod, "setConfig", s[1])
			next.fn(i, mod, s) // s[0] becomes the result
			if s[0] != 0 || key != fieldCopyKey || !strings.HasPrefix(value, "v2 ") {
				return
			}
			fc, _, err := i.parseFieldCopy(mod, value)
			if err != nil {
				t.Fatal(err)
			}
			mod.Memory().WriteUint32Le(fc.ptr+8, 0)
		}
	})
}

// withoutFieldCopy makes setConfig of "gadgetry.fieldcopy" and "gadgetry.sdk" behave as on a
// host without the extensions: accepted and ignored, as Inspektor Gadget does (refuse=false),
// or refused as an unknown key, as an older Gadgetry does (refuse=true).
func withoutFieldCopy(t testing.TB, refuse bool) {
	wrapHostFunc(t, "setConfig", func(next hostFunc) func(*Instance, api.Module, []uint64) {
		return func(i *Instance, mod api.Module, s []uint64) {
			if key, _ := i.str(mod, "setConfig", s[0]); key == fieldCopyKey || key == sdkKey {
				// Such a host reads a char[N] field whole for a module that did not announce
				// itself, as IG does (this host gives the text to a callback with a result,
				// Gadgetry's SDK before v0.5.0).
				i.legacyFC = false
				s[0] = 0
				if refuse {
					i.bad("setConfig", "%s: no parameter %q", key, key)
					s[0] = 1
				}
				return
			}
			next.fn(i, mod, s)
		}
	})
}

// withoutBatches makes setConfig refuse version 2 requests of "gadgetry.fieldcopy" as a
// Gadgetry with version 1 only (SDK v0.3.0) does.
func withoutBatches(t testing.TB) {
	wrapHostFunc(t, "setConfig", func(next hostFunc) func(*Instance, api.Module, []uint64) {
		return func(i *Instance, mod api.Module, s []uint64) {
			if key, _ := i.str(mod, "setConfig", s[0]); key == fieldCopyKey {
				if v, _ := i.str(mod, "setConfig", s[1]); strings.HasPrefix(v, "v2 ") {
					i.bad("setConfig", `%s %q refused: want "v1 ds=D buf=PTR+CAP fields=F1,F2,..."`, key, v)
					s[0] = 1
					return
				}
			}
			next.fn(i, mod, s)
		}
	})
}

// copiedFields returns the number of fields copied by data source name, version 1 and 2.
func copiedFields(inst *Instance) (v1, v2 map[string]int) {
	v1, v2 = map[string]int{}, map[string]int{}
	if c, ok := inst.callback.(*fieldCopyCallback); ok {
		for _, fc := range c.copies {
			if fc != nil {
				v1[fc.ds.Name] = len(fc.fields)
			}
		}
	}
	for _, fc := range inst.batches {
		if fc != nil {
			v2[fc.ds.Name] = len(fc.fields)
		}
	}
	return v1, v2
}

func fieldCopyGuest(t testing.TB, toolchain string) []byte {
	return gadgettest.WASMWith(t, filepath.Join("testdata", "fieldcopy"), toolchain)
}

// startKinds instantiates mod (testdata/fieldcopy) on a kindsRun with params and runs its
// gadgetInit; the guest's log is shown if the test fails.
func startKinds(t testing.TB, mod []byte, params map[string]string) (*kindsRun, *Instance) {
	t.Helper()
	run := newKindsRun(t, params)
	inst, err := newEngine(t, Options{}).Instantiate(context.Background(), "fieldcopy", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		inst.Close()
		if t.Failed() {
			t.Log(run.log.dump())
		}
	})
	if err := inst.Init(); err != nil {
		t.Fatal(err)
	}
	return run, inst
}

// TestFieldCopy runs testdata/fieldcopy, built with Go and with TinyGo, on this host and on
// hosts without the extension: the guest reads the same values of every kind either way,
// with host calls only where the copy cannot serve (a value too long for the buffer, a field
// set during the callback) on this host, and with a host call per read on the others.
func TestFieldCopy(t *testing.T) {
	for _, tc := range []string{build.ToolchainGo, build.ToolchainTinyGo} {
		for _, host := range []string{"gadgetry", "gadgetry-v1", "ig", "older"} {
			t.Run(tc+"/"+host, func(t *testing.T) {
				mod := fieldCopyGuest(t, tc)
				switch host {
				case "gadgetry-v1":
					withoutBatches(t)
				case "ig":
					withoutFieldCopy(t, false)
				case "older":
					withoutFieldCopy(t, true)
				}
				calls := countHostCalls(t)
				run, inst := startKinds(t, mod, nil)
				v1, v2 := copiedFields(inst)
				want := map[string]int{"kinds": len(kindsFields) + 1, "events": 2} // looked up with GetField, not added
				got := map[string]map[string]int{"gadgetry": v2, "gadgetry-v1": v1}[host]
				if fmt.Sprint(got) != fmt.Sprint(map[bool]map[string]int{true: want, false: nil}[got != nil]) || len(v1)+len(v2) != len(got) {
					t.Fatalf("copied fields by data source: version 1 %v, version 2 %v; want %v in version %s", v1, v2, want, host)
				}
				probed := host == "gadgetry" || host == "gadgetry-v1"

				// Per kinds callback: reads of 12 scalars and 6 strings or bytes, then 6 reads
				// around Sets (testdata/fieldcopy/main.go, onKinds).
				wantScalar, wantBuffer := int64(17), int64(7)
				switch host {
				case "gadgetry-v1":
					// long (6001 bytes) does not fit the buffer; u64 and cstr after their Set;
					// u32 and u8 after a Set of u32alias, which shares u32's bytes.
					wantScalar, wantBuffer = 3, 2
				case "gadgetry":
					// The same, but long fits a batch's buffer.
					wantScalar, wantBuffer = 3, 1
				}
				for n := 1; n <= 3; n++ {
					before := [2]int64{calls.scalar.Load(), calls.buffer.Load()}
					rec := run.emitKinds(t, n)
					want := rec.values()
					if !probed {
						// A host that does not say which fields are char[N] (IG's): String
						// cuts every value at its first NUL, as IG's SDK does.
						want = strings.Replace(want, strconv.Quote(string(rec.str)), strconv.Quote(string(rec.str[:2])), 1)
					}
					if got := run.log.result("values"); got != want {
						t.Errorf("record %d: the guest read\n%s\nwant\n%s", n, got, want)
					}
					for k, want := range map[string]string{
						"set.u64":   fmt.Sprintf("%d,%d", rec.u64, rec.u64+1),
						"set.cstr":  `"changed"`,
						"after.out": strconv.Itoa(int(rec.u16)),
						"set.alias": fmt.Sprintf("7,%d", rec.u8),
					} {
						if got := run.log.result(k); got != want {
							t.Errorf("record %d: %s = %q, want %q", n, k, got, want)
						}
					}
					if s, b := calls.scalar.Load()-before[0], calls.buffer.Load()-before[1]; s != wantScalar || b != wantBuffer {
						t.Errorf("record %d: %d fieldGetScalar and %d fieldGetBuffer calls, want %d and %d", n, s, b, wantScalar, wantBuffer)
					}
				}
				// Another data source of the same guest has its own buffer.
				before := calls.scalar.Load() + calls.buffer.Load()
				run.emit(t, 4321, "evcomm")
				if got := run.log.result("event"); got != "4321,evcomm" {
					t.Errorf("event = %q, want 4321,evcomm", got)
				}
				// pid and comm, copied where the host copies, then the two added fields read
				// back, from the write-back where the host takes one (batches).
				if n, want := calls.scalar.Load()+calls.buffer.Load()-before, map[string]int64{"gadgetry": 0, "gadgetry-v1": 2, "ig": 4, "older": 4}[host]; n != want {
					t.Errorf("events callback made %d field host calls, want %d", n, want)
				}
				if inst.Stats().HostErrors != map[string]uint64{"gadgetry": 0, "gadgetry-v1": 2, "ig": 0, "older": 5}[host] {
					t.Errorf("host errors: %d", inst.Stats().HostErrors)
				}
			})
		}
	}
}

// TestFieldCopyRefused sends requests the host must refuse (testdata/fieldcopy with
// bad=true): each fails with a logged reason, writes nothing into the guest's buffer at once
// or at later callbacks, and the guest's valid requests (the SDK's own) still work.
func TestFieldCopyRefused(t *testing.T) {
	mod := fieldCopyGuest(t, build.ToolchainGo)
	calls := countHostCalls(t)
	run, inst := startKinds(t, mod, map[string]string{"bad": "true"})
	reasons := map[string]string{
		"outside":   "lies outside guest memory",
		"huge":      "buffer of 4294967295 bytes: 1 fields need 32 to 4194304",
		"foreign":   `belongs to data source "events", not "kinds"`,
		"notfield":  "is not a field",
		"array":     `data source "arr" is an array data source`,
		"small":     "buffer of 16 bytes: 1 fields need 32",
		"unaligned": "is not 8-byte aligned",
		"version":   `want "v1 ds=D buf=PTR+CAP fields=F1,F2,..."`,
	}
	logs := run.log.dump()
	for name, reason := range reasons {
		if got := run.log.result("bad." + name); got != "refused,true" {
			t.Errorf("request %s: %q, want refused,true (refused, buffer untouched)", name, got)
		}
		if !strings.Contains(logs, "gadgetry.fieldcopy") || !strings.Contains(logs, reason) {
			t.Errorf("request %s: the log does not say %q", name, reason)
		}
	}
	if got := inst.Stats().HostErrors; got != uint64(len(reasons)) {
		t.Errorf("host errors: %d, want %d", got, len(reasons))
	}
	before := calls.scalar.Load() + calls.buffer.Load()
	rec := run.emitKinds(t, 1)
	if got := run.log.result("values"); got != rec.values() {
		t.Errorf("the guest read\n%s\nwant\n%s", got, rec.values())
	}
	if got := run.log.result("bad.untouched"); got != "true" {
		t.Errorf("buffer of the refused requests untouched after a callback: %s", got)
	}
	if n := calls.scalar.Load() + calls.buffer.Load() - before; n != 4 {
		t.Errorf("%d field host calls in the callback, want 4 as without bad requests (the SDK's own request was accepted)", n)
	}
}

// filledInstance returns an instance of testdata/fieldcopy past Init, the field copy of its
// kinds data source (version 1 on a host without batches, else version 2), and a data handle
// of record 1 (the instance's mutex is held until the test ends, as during a callback).
func filledInstance(t testing.TB, v1 bool) (*Instance, *fieldCopy, uint32) {
	if v1 {
		withoutBatches(t)
	}
	run, inst := startKinds(t, fieldCopyGuest(t, build.ToolchainGo), nil)
	var fc *fieldCopy
	copies := inst.batches
	if c, ok := inst.callback.(*fieldCopyCallback); ok {
		copies = c.copies
	}
	for _, x := range copies {
		if x != nil && x.ds == run.kinds && (x.batch == 0) == v1 {
			fc = x
		}
	}
	if fc == nil {
		t.Fatalf("no field copy (version 1: %v) set up", v1)
	}
	_, d := run.newKinds(t, 1)
	inst.mu.Lock()
	t.Cleanup(inst.mu.Unlock)
	return inst, fc, inst.h.add(entry{kind: kData, ds: run.kinds, obj: d, temp: true})
}

// TestFieldCopyFillAllocates nothing: filling the buffer before a callback (one record,
// version 1) or a batch call (version 2) copies the records' values into guest memory and
// allocates nothing on the host.
func TestFieldCopyFillAllocates(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		inst, fc, h := filledInstance(t, true)
		if n := testing.AllocsPerRun(100, func() { fc.fill(inst, h) }); n != 0 {
			t.Errorf("fill allocates %v times per record", n)
		}
		buf, _ := inst.mod.Memory().Read(fc.ptr, 12)
		if got := binary.LittleEndian.Uint32(buf[8:]); got != h {
			t.Errorf("the header names record %d, want %d", got, h)
		}
	})
	t.Run("v2", func(t *testing.T) {
		inst, fc, h := filledInstance(t, false)
		e, _ := inst.h.get(h, kData)
		hs := make([]uint32, fc.batch)
		ds := make([]*datasource.Data, fc.batch)
		for k := range hs {
			hs[k], ds[k] = h, e.obj.(*datasource.Data)
		}
		if n := testing.AllocsPerRun(20, func() { fc.fillBatch(inst, hs, ds) }); n != 0 {
			t.Errorf("fillBatch allocates %v times per batch", n)
		}
		buf, _ := inst.mod.Memory().Read(fc.ptr, fc.cap)
		le := binary.LittleEndian
		if got := le.Uint32(buf[8:]); got != fc.batch {
			t.Errorf("the header says %d records, want %d", got, fc.batch)
		}
		last := fcHeaderSize + (fc.batch-1)*fc.recSize()
		if got := le.Uint32(buf[last:]); got != h {
			t.Errorf("the last record's header names record %d, want %d", got, h)
		}
	})
}

// BenchmarkFieldCopyFill is the host's cost of filling the buffer with a kinds record (17
// fields, among them a 6001-byte cstring it scans for its NUL and does not copy).
func BenchmarkFieldCopyFill(b *testing.B) {
	inst, fc, h := filledInstance(b, true)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		fc.fill(inst, h)
	}
}

// BenchmarkFieldCopy is the cost of a callback that reads the 17 fields of a kinds record
// (12 numbers, 5 strings or bytes, cstr twice), with the field copy (gadgetry) and with a host call per
// read (ig: a host without the extension).
func BenchmarkFieldCopy(b *testing.B) {
	for _, tc := range []string{build.ToolchainGo, build.ToolchainTinyGo} {
		for _, host := range []string{"gadgetry", "ig"} {
			b.Run(tc+"/"+host, func(b *testing.B) {
				mod := fieldCopyGuest(b, tc)
				if host == "ig" {
					withoutFieldCopy(b, false)
				}
				run, _ := startKinds(b, mod, map[string]string{"bench": "true"})
				_, d := run.newKinds(b, 1)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := run.kinds.Emit(d); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// countingFn counts the calls of a guest function.
type countingFn struct {
	api.Function
	n *int
}

func (c countingFn) CallWithStack(ctx context.Context, stack []uint64) error {
	*c.n++
	return c.Function.CallWithStack(ctx, stack)
}

// TestBatches delivers 600 records in one EmitBatch to testdata/fieldcopy, built with Go and
// with TinyGo: on this host the guest is entered once per 256 records (3 calls) and reads
// every field from its buffer, on a host without the extension once per record with host
// calls; either way it sees every record, and those it drops (comm "drop", every 7th) reach
// no later subscriber.
func TestBatches(t *testing.T) {
	for _, tc := range []string{build.ToolchainGo, build.ToolchainTinyGo} {
		for _, host := range []string{"gadgetry", "ig", "nowriteback"} {
			t.Run(tc+"/"+host, func(t *testing.T) {
				mod := fieldCopyGuest(t, tc)
				switch host {
				case "ig":
					withoutFieldCopy(t, false)
				case "nowriteback":
					withoutWriteBack(t)
				}
				calls := countHostCalls(t)
				run, inst := startKinds(t, mod, nil)
				var batchCalls, recordCalls int
				if inst.batchFn != nil {
					inst.batchFn = countingFn{inst.batchFn, &batchCalls}
				}
				inst.callback = countingFn{inst.callback, &recordCalls}
				var after []uint64
				var badTags []string
				run.events.Subscribe(100, func(_ *datasource.DataSource, d *datasource.Data) error {
					pid := run.pid.Uint(d)
					after = append(after, pid)
					tag, twice := run.events.Field("tag"), run.events.Field("twice")
					if got, want := tag.String(d), fmt.Sprintf("k%d", pid); got != want || twice.Uint(d) != 2*pid {
						badTags = append(badTags, fmt.Sprintf("pid %d: tag %q twice %d", pid, got, twice.Uint(d)))
					}
					return nil
				})
				var batch []*datasource.Data
				var keptSum, keptN uint64
				const total = 600
				for pid := uint64(1); pid <= total; pid++ {
					d := run.events.NewData()
					_ = run.pid.SetUint(d, pid)
					comm := "keep"
					if pid%7 == 0 {
						comm = "drop"
					} else {
						keptSum += pid
						keptN++
					}
					_ = run.comm.SetString(d, comm)
					batch = append(batch, d)
				}
				kept, err := run.events.EmitBatch(batch)
				if err != nil {
					t.Fatal(err)
				}
				if uint64(len(kept)) != keptN || uint64(len(after)) != keptN {
					t.Errorf("kept %d, the next subscriber saw %d, want %d", len(kept), len(after), keptN)
				}
				if got, want := run.log.result("events.kept"), fmt.Sprintf("%d,%d", keptN, keptSum); got != want {
					t.Errorf("the guest kept (count,sum of pids) %s, want %s", got, want)
				}
				if len(badTags) > 0 {
					t.Errorf("the fields the guest set, as the next subscriber sees them: %q", badTags)
				}
				if got := run.log.result("events.readback"); got != "true" {
					t.Errorf("the guest read back what it set: %s, want true", got)
				}
				// Without the write-back, each kept record's three sets are host calls.
				wantBatch, wantRecord, wantHost, wantSets := 3, 0, int64(0), int64(0)
				switch host {
				case "ig":
					wantBatch, wantRecord, wantHost, wantSets = 0, total, 2*total+2*int64(keptN), 3*int64(keptN)
				case "nowriteback":
					wantHost, wantSets = 2*int64(keptN), 3*int64(keptN)
				}
				if n := calls.set.Load(); n != wantSets {
					t.Errorf("%d fieldSet host calls, want %d", n, wantSets)
				}
				if batchCalls != wantBatch || recordCalls != wantRecord {
					t.Errorf("%d batch calls and %d dataSourceCallback calls, want %d and %d", batchCalls, recordCalls, wantBatch, wantRecord)
				}
				if n := calls.scalar.Load() + calls.buffer.Load(); n != wantHost {
					t.Errorf("%d field host calls, want %d", n, wantHost)
				}
				if s := inst.Stats(); s.Callbacks != total || s.Dropped != total-keptN {
					t.Errorf("stats: %d callbacks, %d dropped; want %d, %d", s.Callbacks, s.Dropped, total, total-keptN)
				}
			})
		}
	}
}
