package wasm

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := NewEngineWithOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestFullGuest drives a guest that calls every host function through the whole lifecycle.
func TestFullGuest(t *testing.T) {
	requireBPF(t)
	mod := guest(t, "full")
	e := newEngine(t, Options{})
	run := newFakeRun(t, map[string]string{"drop": "dropme", "keys": "1,2,3", "long": strings.Repeat("x", 5000)})
	filter, err := ebpf.NewMap(&ebpf.MapSpec{Name: "filter", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer filter.Close()
	run.maps["filter"] = filter
	perfArr, perfProg := perfWriter(t)
	run.maps["events_perf"] = perfArr

	inst, err := e.Instantiate(context.Background(), "full", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	defer func() {
		if t.Failed() {
			t.Log(run.log.dump())
		}
	}()
	want := func(k, v string) {
		t.Helper()
		if got := run.log.result(k); got != v {
			t.Errorf("guest result %s = %q, want %q", k, got, v)
		}
	}

	if err := inst.Start(); err == nil || !strings.Contains(err.Error(), "gadgetStart called after instantiate") {
		t.Fatalf("Start before Init: %v", err)
	}
	if err := inst.Init(); err != nil {
		t.Fatal(err)
	}
	want("param.drop", "dropme")
	want("param.long.len", "5000")
	want("param.nope", "missing")
	want("ds.nope", "missing")
	want("field.nope", "missing")
	want("map.before.start", "refused")
	want("bad.data.handle", "refused")
	want("referenced", "true")
	want("shouldlog.trace", "false")
	if !run.unref["arrout"] {
		t.Error("arrout not unreferenced")
	}
	pid2 := run.events.Field("pid2")
	upper := run.events.Field("upper")
	if pid2 == nil || upper == nil || pid2.Kind != datasource.KindUint64 || upper.Tags[len(upper.Tags)-1] != "computed" {
		t.Fatalf("added fields: %+v %+v", pid2, upper)
	}

	// Events before Start reach the guest too (data sources exist from Init on).
	dropped, d := run.emit(t, 21, "upload")
	if dropped || pid2.Uint(d) != 42 || upper.String(d) != "UPLOAD" {
		t.Fatalf("event: dropped=%v pid2=%d upper=%q", dropped, pid2.Uint(d), upper.String(d))
	}
	if dropped, _ := run.emit(t, 1, "dropme"); !dropped {
		t.Fatal("event not dropped")
	}
	_, d = run.emit(t, 5, "cat")
	if upper.IsSet(d) || pid2.Uint(d) != 10 {
		t.Fatal("cat event")
	}
	arr := []*datasource.Data{run.arr.NewData(), run.arr.NewData()}
	binary.LittleEndian.PutUint32(arr[0].Raw, 40)
	binary.LittleEndian.PutUint32(arr[1].Raw, 2)
	if _, err := run.arr.EmitArray(arr); err != nil {
		t.Fatal(err)
	}
	want("array.sum", "42")
	want("array.oob", "refused")

	if err := inst.PreStart(); err != nil {
		t.Fatal(err)
	}
	if run.config["programs.prog.attach_to"] != "sys_enter_openat" {
		t.Fatalf("config %v", run.config)
	}
	if err := inst.Start(); err != nil {
		t.Fatal(err)
	}
	want("config.late", "refused")
	var v uint32
	for k, present := range map[uint32]bool{1: true, 2: true, 3: false} {
		err := filter.Lookup(k, &v)
		if (err == nil) != present {
			t.Errorf("filter key %d: %v", k, err)
		}
	}
	want("lookup.missing", "error")
	want("update.badkey", "refused")
	want("own.noexist", "refused")
	want("own.value", "42")
	want("own.doubleclose", "refused")
	nr := map[string]string{"amd64": "257", "arm64": "56"}
	if got := run.log.result("syscall.openat"); got != nr["amd64"] && got != nr["arm64"] {
		t.Errorf("openat = %s", got)
	}
	want("syscall.name", "openat")
	want("syscall.unknown", "refused")
	want("syscall.badnr", "refused")
	want("decl", "openat(int|dfd|false;const char *|filename|true;int|flags|false;umode_t|mode|false)")
	want("kallsyms.present", "true")
	want("kallsyms.absent", "false")
	want("mntns.discard.5", "true")
	want("mntns.discard.6", "false")
	want("perf.read", "drained")
	for _, k := range []string{"tag", "unreference", "delete", "own.put", "own.lookup", "own.close", "perf.pause", "perf.resume", "perf.close", "perf.map.close"} {
		want(k, "")
	}

	// A record the guest's reader drains in gadgetStop.
	if ret, err := perfProg.Run(&ebpf.RunOptions{Data: make([]byte, 14)}); err != nil || ret != 0 {
		t.Fatalf("running the perf writer: %d %v", ret, err)
	}

	var got []int64
	run.ds["arrout"].SubscribeArray(0, func(ds *datasource.DataSource, a []*datasource.Data) error {
		for _, d := range a {
			got = append(got, ds.Field("v").Int(d))
		}
		return nil
	})
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	want("perf.kernel", "hello perf")
	want("perf.kernel.after", "")
	want("perf.kernel.close", "")
	want("summary.seen", "2") // the guest's own subscriber saw its packet
	want("packet.seen", "2")  // and its packet subscription too
	want("arr.len", "3")
	want("emit.wrongds", "refused")
	want("arr.set", "")
	if len(got) != 3 || got[0] != 0 || got[1] != -1 || got[2] != -2 {
		t.Fatalf("arrout = %v", got)
	}
	if err := inst.PostStop(); err != nil {
		t.Fatal(err)
	}
	want("phases", "init,prestart,start,stop,poststop")
	want("events", "2")
	st := inst.Stats()
	if st.Dropped != 1 || st.Callbacks != 6 { // 3 events + 1 array + 2 on summary
		t.Errorf("stats %+v", st)
	}
	if st.HostErrors == 0 {
		t.Error("the guest's refused calls were not counted")
	}
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	// Events after Close pass untouched.
	if dropped, _ := run.emit(t, 1, "dropme"); dropped {
		t.Fatal("closed instance dropped an event")
	}
}

// perfWriter returns a perf event array and a socket filter program that writes the record
// "hello perf" to it when test-run.
func perfWriter(t *testing.T) (*ebpf.Map, *ebpf.Program) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "events_perf", Type: ebpf.PerfEventArray})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.StoreImm(asm.RFP, -16, 0x6c6c6568, asm.Word), // "hell"
		asm.StoreImm(asm.RFP, -12, 0x6570206f, asm.Word), // "o pe"
		asm.StoreImm(asm.RFP, -8, 0x00006672, asm.Word),  // "rf"
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.LoadMapPtr(asm.R2, m.FD()),
		asm.LoadImm(asm.R3, 0xffffffff, asm.DWord), // BPF_F_CURRENT_CPU
		asm.Mov.Reg(asm.R4, asm.RFP),
		asm.Add.Imm(asm.R4, -16),
		asm.Mov.Imm(asm.R5, 10),
		asm.FnPerfEventOutput.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, Instructions: insns, License: "GPL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return m, p
}

// TestBadGuests checks each way a guest can misbehave gives a clear error and leaves the
// host working. Every verdict is decided by what the guest does, never by how fast the machine
// is: the out-of-memory guest hits the memory limit (refused by the host, whatever the time
// it takes to get there); the looping guests never return, so the watchdog, with a limit
// shortened for that one call only, is the only way their call can end. The engine's own
// limits are hang guards.
func TestBadGuests(t *testing.T) {
	mod := guest(t, "bad")
	e := newEngine(t, Options{HookTimeout: time.Minute, CallbackTimeout: time.Minute, MemoryLimitMiB: 64})
	for _, c := range []struct {
		mode     string
		hook     func(*Instance) error // after Init
		wantInit string                // the whole error of Init
		want     string                // the whole error of hook
		survived string
	}{
		{mode: "fail", wantInit: "gadget bad-fail: wasm gadgetInit returned 1: init: the gadget refuses to start: bad parameter x"},
		{mode: "trap", wantInit: "gadget bad-trap: wasm gadgetInit failed: trapped (wasm error: unreachable): panic: assignment to entry in nil map"},
		{mode: "oom", wantInit: "gadget bad-oom: wasm module exceeded its memory limit (64 MiB); raise it with --wasm-memory-limit"},
		{mode: "badptr", survived: "badptr"},
		{mode: "badhandle", survived: "badhandle"},
		{mode: "startloop", hook: func(i *Instance) error {
			if err := i.PreStart(); err != nil {
				return err
			}
			shortenLimits(i, 300*time.Millisecond, 0)
			return i.Start()
		}, want: "gadget bad-startloop: wasm gadgetStart failed: did not return within 300ms (killed; a hook or callback must not block or loop)"},
		{mode: "loop", hook: func(i *Instance) error {
			shortenLimits(i, 0, 200*time.Millisecond)
			return emitOne(i)
		}, want: "gadget bad-loop: wasm dataSourceCallback failed: did not return within 200ms (killed; a hook or callback must not block or loop)"},
		{mode: "cbtrap", hook: func(i *Instance) error { return emitOne(i) }, want: "gadget bad-cbtrap: wasm dataSourceCallback failed: trapped (wasm error: unreachable): panic: callback exploded"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			run := newFakeRun(t, map[string]string{"mode": c.mode})
			inst, err := e.Instantiate(context.Background(), "bad-"+c.mode, mod, "", run.env())
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close()
			currentRun = run
			err = inst.Init()
			if c.wantInit != "" {
				if err == nil || err.Error() != c.wantInit {
					t.Fatalf("Init error %q, want %q\n%s", err, c.wantInit, run.log.dump())
				}
				if c.mode == "fail" {
					// The error quotes the guest's error log: it is not logged a second time.
					if strings.Contains(run.log.dump(), "refuses to start") {
						t.Errorf("the quoted error was logged too:\n%s", run.log.dump())
					}
					return // the guest is sane: the run may still call its hooks
				}
				if err := inst.PreStart(); err == nil || !strings.Contains(err.Error(), "not run") {
					t.Fatalf("hook after a failure: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Init: %v\n%s", err, run.log.dump())
			}
			if c.survived != "" {
				if run.log.result(c.survived) != "survived" {
					t.Fatalf("no survival report\n%s", run.log.dump())
				}
				if inst.Stats().HostErrors < 3 {
					t.Fatalf("host errors %d", inst.Stats().HostErrors)
				}
				return
			}
			err = c.hook(inst)
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %q, want %q\n%s", err, c.want, run.log.dump())
			}
		})
	}
	// The engine still works.
	run := newFakeRun(t, map[string]string{"mode": "none"})
	inst, err := e.Instantiate(context.Background(), "after", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := inst.Init(); err != nil {
		t.Fatal(err)
	}
}

// shortenLimits sets the instance's hook and callback limits (0 keeps one) for the calls that
// follow, so that only the call expected to hang runs under a short limit.
func shortenLimits(i *Instance, hook, callback time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if hook > 0 {
		i.hookTimeout = hook
	}
	if callback > 0 {
		i.callbackTimeout = callback
	}
}

var currentRun *fakeRun

func emitOne(i *Instance) error {
	d := currentRun.events.NewData()
	_, err := currentRun.events.Emit(d)
	return err
}

func TestRejectsForeignModules(t *testing.T) {
	e := newEngine(t, Options{})
	// A module importing an unknown ig function, in the WASM text format compiled by hand:
	// (module (import "ig" "nope" (func)) (func (export "gadgetAPIVersion") (result i64) i64.const 1))
	mod := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x08, 0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x01, 0x7e, // types
		0x02, 0x0b, 0x01, 0x02, 'i', 'g', 0x04, 'n', 'o', 'p', 'e', 0x00, 0x00, // import
		0x03, 0x02, 0x01, 0x01, // func
		0x07, 0x14, 0x01, 0x10, 'g', 'a', 'd', 'g', 'e', 't', 'A', 'P', 'I', 'V', 'e', 'r', 's', 'i', 'o', 'n', 0x00, 0x01, // export
		0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x01, 0x0b, // code
	}
	_, err := e.Instantiate(context.Background(), "foreign", mod, "", Env{})
	if err == nil || !strings.Contains(err.Error(), "imports ig.nope, which this host does not provide") {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.Instantiate(context.Background(), "garbage", []byte("not wasm"), "", Env{}); err == nil {
		t.Fatal("garbage compiled")
	}
}

// TestCallbackWithoutResult runs a guest built without the SDK whose dataSourceCallback
// returns nothing (as modules built for Inspektor Gadget): events pass, changed, never dropped.
func TestCallbackWithoutResult(t *testing.T) {
	mod := guest(t, "igstyle")
	e := newEngine(t, Options{})
	run := newFakeRun(t, nil)
	inst, err := e.Instantiate(context.Background(), "igstyle", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := inst.Init(); err != nil {
		t.Fatal(err)
	}
	dropped, d := run.emit(t, 1, "x")
	if dropped || run.pid.Uint(d) != 4242 {
		t.Fatalf("dropped=%v pid=%d", dropped, run.pid.Uint(d))
	}
	// Hooks the module does not export are skipped.
	for _, h := range []func() error{inst.PreStart, inst.Start, inst.Stop, inst.PostStop} {
		if err := h(); err != nil {
			t.Fatal(err)
		}
	}
}
