package wasm

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// hog starts the hog guest (testdata/hog) with params and returns the instance.
func hog(t *testing.T, e *Engine, name string, run *fakeRun, limitMiB uint32) *Instance {
	t.Helper()
	env := run.env()
	env.MemoryLimitMiB = limitMiB
	inst, err := e.Instantiate(context.Background(), name, guest(t, "hog"), "", env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// TestMemoryLimitInit: a guest that grows to 1 GiB in gadgetInit fails at the default limit
// with the limit error, whatever the time it takes to get there; the guest's memory never
// went past the limit, and its runtime's crash dump is not shown as warnings.
func TestMemoryLimitInit(t *testing.T) {
	e := newEngine(t, Options{})
	run := newFakeRun(t, map[string]string{"where": "init", "mib": "1024", "ds": "events"})
	inst := hog(t, e, "hog", run, 0)
	err := inst.Init()
	const want = "gadget hog: wasm module exceeded its memory limit (256 MiB); raise it with --wasm-memory-limit"
	if err == nil || err.Error() != want {
		t.Fatalf("Init: %v, want %q\n%s", err, want, run.log.dump())
	}
	if !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("%v does not wrap ErrMemoryLimit", err)
	}
	if got := inst.mod.Memory().Size(); got > 256<<20 {
		t.Errorf("guest memory %d MiB, past the 256 MiB limit", got>>20)
	}
	for _, l := range strings.Split(run.log.dump(), "\n") {
		if strings.HasPrefix(l, "WARN ") && strings.Contains(l, "stream=stderr") {
			t.Errorf("the guest's output after its memory ran out is shown as a warning: %s", l)
		}
	}
	if run.log.result("grew") != "" {
		t.Error("the guest got all its memory")
	}
	if err := inst.PreStart(); err == nil || !strings.Contains(err.Error(), "not run: "+want) {
		t.Errorf("hook after the limit: %v", err)
	}
}

// TestMemoryLimitCallback: the same in an event callback: the event's emit fails with the
// limit error, and so does every later one.
func TestMemoryLimitCallback(t *testing.T) {
	e := newEngine(t, Options{MemoryLimitMiB: 64})
	run := newFakeRun(t, map[string]string{"where": "callback", "mib": "128", "ds": "events"})
	inst := hog(t, e, "hogcb", run, 0)
	if err := inst.Init(); err != nil {
		t.Fatal(err)
	}
	const want = "gadget hogcb: wasm module exceeded its memory limit (64 MiB); raise it with --wasm-memory-limit"
	for range 2 {
		_, err := run.events.Emit(run.events.NewData())
		if err == nil || err.Error() != want || !errors.Is(err, ErrMemoryLimit) {
			t.Fatalf("emit: %v, want %q\n%s", err, want, run.log.dump())
		}
	}
	if st := inst.Stats(); st.Callbacks != 1 {
		t.Errorf("callbacks %d, want 1 (none after the failure)", st.Callbacks)
	}
}

// TestMemoryLimitPerInstance: Env.MemoryLimitMiB overrides the engine's limit both ways.
func TestMemoryLimitPerInstance(t *testing.T) {
	e := newEngine(t, Options{MemoryLimitMiB: 64})
	params := map[string]string{"where": "init", "mib": "128", "ds": "events"}
	run := newFakeRun(t, params)
	if err := hog(t, e, "raised", run, 192).Init(); err != nil {
		t.Fatalf("128 MiB under a 192 MiB limit: %v\n%s", err, run.log.dump())
	}
	if got := run.log.result("grew"); got != "128" {
		t.Fatalf("grew %q, want 128", got)
	}
	run = newFakeRun(t, params)
	want := "gadget lowered: wasm module exceeded its memory limit (32 MiB); raise it with --wasm-memory-limit"
	if err := hog(t, e, "lowered", run, 32).Init(); err == nil || err.Error() != want {
		t.Fatalf("Init: %v, want %q", err, want)
	}
}

// TestMemoryLimitInitialMemory: a module whose initial memory (or start-up) alone is over
// the limit fails to instantiate with the limit error.
func TestMemoryLimitInitialMemory(t *testing.T) {
	e := newEngine(t, Options{MemoryLimitMiB: 1})
	_, err := e.Instantiate(context.Background(), "tiny", guest(t, "hog"), "", newFakeRun(t, nil).env())
	const want = "gadget tiny: wasm module exceeded its memory limit (1 MiB); raise it with --wasm-memory-limit"
	if err == nil || err.Error() != want {
		t.Fatalf("Instantiate: %v, want %q", err, want)
	}
	// The initial memory itself past the limit (not a grow): 32 pages declared, 1 MiB allowed
	// is 16.
	_, err = e.Instantiate(context.Background(), "tiny", growModule(32, 0, 0), "", Env{})
	if err == nil || err.Error() != want {
		t.Fatalf("Instantiate: %v, want %q", err, want)
	}
}

// TestMemoryLimitHandledGrow: a guest (not Go) that sees its memory.grow fail and carries on
// keeps running, with a warning; one that then returns an error fails with the limit error.
func TestMemoryLimitHandledGrow(t *testing.T) {
	e := newEngine(t, Options{MemoryLimitMiB: 1})
	run := newFakeRun(t, nil)
	// 1 page, grows by 32 (past 16 pages = 1 MiB), then returns 0.
	inst, err := e.Instantiate(context.Background(), "carry", growModule(1, 32, 0), "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := inst.Init(); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if !strings.Contains(run.log.dump(), "WARN wasm guest memory limit hook=gadgetInit reason=its memory.grow to 2 MiB was refused (limit 1 MiB, --wasm-memory-limit); it carried on") {
		t.Errorf("no warning:\n%s", run.log.dump())
	}
	if err := inst.PreStart(); err != nil {
		t.Errorf("the guest carried on, its next hook: %v", err)
	}
	// Grows by 8 (within the limit) then returns 0: no warning now.
	inst2, err := e.Instantiate(context.Background(), "within", growModule(1, 8, 0), "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst2.Close()
	if err := inst2.Init(); err != nil || strings.Count(run.log.dump(), "memory.grow") != 1 {
		t.Fatalf("Init: %v\n%s", err, run.log.dump())
	}
	if got := inst2.mod.Memory().Size(); got != 9<<16 {
		t.Errorf("memory %d bytes, want 9 pages", got)
	}

	inst3, err := e.Instantiate(context.Background(), "giveup", growModule(1, 32, 1), "", Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst3.Close()
	const want = "gadget giveup: wasm module exceeded its memory limit (1 MiB); raise it with --wasm-memory-limit"
	if err := inst3.Init(); err == nil || err.Error() != want {
		t.Fatalf("Init: %v, want %q", err, want)
	}
}

func TestMemoryLimitOptions(t *testing.T) {
	if _, err := NewEngineWithOptions(Options{MemoryLimitMiB: MaxMemoryLimitMiB + 1}); err == nil || err.Error() != "wasm memory limit 4097 MiB: want 1 to 4096 MiB" {
		t.Errorf("engine with a 4097 MiB limit: %v", err)
	}
	e := newEngine(t, Options{})
	_, err := e.Instantiate(context.Background(), "x", growModule(1, 0, 0), "", Env{MemoryLimitMiB: 5000})
	if err == nil || err.Error() != "gadget x: wasm memory limit 5000 MiB: want 1 to 4096 MiB" {
		t.Errorf("instance with a 5000 MiB limit: %v", err)
	}
}

// growModule is a gadget module written without the SDK (as a C or Rust guest could be):
// a memory of minPages pages, and a gadgetInit that grows it by growPages (a failed grow is
// not checked) and returns ret.
//
//	(module
//	  (memory (export "memory") minPages)
//	  (func (export "gadgetAPIVersion") (result i64) i64.const 1)
//	  (func (export "gadgetInit") (result i32)
//	    (drop (memory.grow (i32.const growPages))) i32.const ret))
func growModule(minPages, growPages uint32, ret int32) []byte {
	sleb := func(v int64) []byte {
		var b []byte
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	uleb := func(v uint32) []byte {
		var b []byte
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v == 0 {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	vec := func(items ...[]byte) []byte {
		b := uleb(uint32(len(items)))
		for _, it := range items {
			b = append(b, it...)
		}
		return b
	}
	name := func(s string) []byte { return append(uleb(uint32(len(s))), s...) }
	section := func(id byte, payload []byte) []byte {
		return append(append([]byte{id}, uleb(uint32(len(payload)))...), payload...)
	}
	body := func(code ...byte) []byte {
		b := append([]byte{0x00}, code...) // no locals
		return append(uleb(uint32(len(b))), b...)
	}
	initCode := append([]byte{0x41}, sleb(int64(growPages))...) // i32.const
	initCode = append(initCode, 0x40, 0x00, 0x1a, 0x41)         // memory.grow 0, drop, i32.const
	initCode = append(append(initCode, sleb(int64(ret))...), 0x0b)
	mod := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	mod = append(mod, section(1, vec([]byte{0x60, 0x00, 0x01, 0x7e}, []byte{0x60, 0x00, 0x01, 0x7f}))...) // types
	mod = append(mod, section(3, vec([]byte{0x00}, []byte{0x01}))...)                                     // funcs
	mod = append(mod, section(5, vec(append([]byte{0x00}, uleb(minPages)...)))...)                        // memory
	mod = append(mod, section(7, vec(
		append(name("memory"), 0x02, 0x00),
		append(name("gadgetAPIVersion"), 0x00, 0x00),
		append(name("gadgetInit"), 0x00, 0x01)))...) // exports
	mod = append(mod, section(10, vec(body(0x42, 0x01, 0x0b), body(initCode...)))...) // code
	return mod
}
