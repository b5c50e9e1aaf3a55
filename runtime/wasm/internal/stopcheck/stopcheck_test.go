package stopcheck

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// mod assembles a module from its sections (id, payload).
func mod(secs ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range secs {
		b = append(b, s[0])
		b = append(b, uleb(uint64(len(s)-1))...)
		b = append(b, s[1:]...)
	}
	return b
}

func sec(id byte, entries ...[]byte) []byte {
	b := append([]byte{id}, uleb(uint64(len(entries)))...)
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

func body(code ...byte) []byte {
	return append(uleb(uint64(len(code))), code...)
}

func exportFunc(n string, idx byte) []byte { return append(name(n), 0x00, idx) }

// testModule has, with globals (one defined, one exported) or without any global or export
// but the functions':
//
//	spin()        loop br 0 end                (never returns)
//	tree(n) i32   n == 0 ? 0 : tree(n-1)+tree(n-1)+1   (2^n calls, no loop)
//	sum(n) i32    0+1+...+(n-1), in a loop with a block, br_if and br_table
//	mix() i32     instructions with immediates of each kind, returns 7
func testModule(withGlobals bool) []byte {
	types := sec(1,
		[]byte{0x60, 0x00, 0x00},             // 0: () -> ()
		[]byte{0x60, 0x01, 0x7f, 0x01, 0x7f}, // 1: (i32) -> i32
		[]byte{0x60, 0x00, 0x01, 0x7f},       // 2: () -> i32
	)
	funcs := sec(3, []byte{0}, []byte{1}, []byte{1}, []byte{2})
	mem := sec(5, []byte{0x00, 0x01})
	spin := body(0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b)
	tree := body(0x00,
		0x20, 0x00, 0x45, 0x04, 0x7f, // local.get 0, i32.eqz, if (result i32)
		0x41, 0x00, // i32.const 0
		0x05,                                     // else
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x01, // tree(n-1)
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x01, // tree(n-1)
		0x6a, 0x41, 0x01, 0x6a, // add, +1
		0x0b, 0x0b)
	// locals: i (1), acc (2)
	sum := body(0x01, 0x02, 0x7f,
		0x02, 0x40, // block
		0x03, 0x40, // loop
		0x20, 0x01, 0x20, 0x00, 0x4e, 0x0d, 0x01, // i >= n: br_if 1 (out)
		0x20, 0x02, 0x20, 0x01, 0x6a, 0x21, 0x02, // acc += i
		0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // i++
		0x41, 0x00, 0x0e, 0x01, 0x00, 0x01, // i32.const 0, br_table [0] 1: back to the loop
		0x0b, 0x0b,
		0x20, 0x02, 0x0b)
	mix := body(0x00,
		0x41, 0x10, 0x41, 0x07, 0x36, 0x02, 0x00, // i32.store align=2 offset=0: mem[16] = 7
		0x42, 0x80, 0x80, 0x80, 0x80, 0x10, 0x1a, // i64.const (a long LEB), drop
		0x43, 0, 0, 0x80, 0x3f, 0x1a, // f32.const 1, drop
		0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, // f64.const 1, drop
		0x3f, 0x00, 0x1a, // memory.size, drop
		0x41, 0x20, 0x41, 0x00, 0x41, 0x04, 0xfc, 0x0b, 0x00, // memory.fill
		0x41, 0x20, 0x41, 0x10, 0x41, 0x04, 0xfc, 0x0a, 0x00, 0x00, // memory.copy
		0x43, 0, 0, 0x80, 0x3f, 0xfc, 0x00, 0x1a, // i32.trunc_sat_f32_s, drop
		0x41, 0x01, 0x41, 0x02, 0x41, 0x01, 0x1c, 0x01, 0x7f, 0x1a, // select (result i32), drop
		0x02, 0x7f, 0x41, 0x05, 0x0b, 0x1a, // block (result i32) 5 end, drop
		0x41, 0x20, 0x28, 0x02, 0x00, // i32.load mem[32]
		0x0b)
	code := sec(10, spin, tree, sum, mix)
	exports := [][]byte{exportFunc("spin", 0), exportFunc("tree", 1), exportFunc("sum", 2), exportFunc("mix", 3)}
	if !withGlobals {
		return mod(types, funcs, mem, sec(7, exports...), code)
	}
	globals := sec(6, []byte{0x7f, 0x01, 0x41, 0x2a, 0x0b}) // mut i32 = 42
	exports = append(exports, append(name("answer"), 0x03, 0x00))
	return mod(types, funcs, mem, globals, sec(7, exports...), sec(0, append(name("note"), "custom"...)), code)
}

func TestInstrumentKeepsBehaviour(t *testing.T) {
	for _, withGlobals := range []bool{false, true} {
		orig := testModule(withGlobals)
		inst, err := Instrument(orig)
		if err != nil {
			t.Fatalf("Instrument: %v", err)
		}
		ctx := context.Background()
		rt := wazero.NewRuntime(ctx)
		defer rt.Close(ctx)
		for i, m := range [][]byte{orig, inst} {
			mi, err := rt.InstantiateWithConfig(ctx, m, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				t.Fatalf("module %d (globals %v): %v", i, withGlobals, err)
			}
			for _, c := range []struct {
				fn   string
				arg  []uint64
				want uint64
			}{{"sum", []uint64{10}, 45}, {"tree", []uint64{5}, 31}, {"mix", nil, 7}} {
				res, err := mi.ExportedFunction(c.fn).Call(ctx, c.arg...)
				if err != nil || res[0] != c.want {
					t.Errorf("module %d (globals %v): %s = %v, %v; want %d", i, withGlobals, c.fn, res, err, c.want)
				}
			}
			if withGlobals && mi.ExportedGlobal("answer").Get() != 42 {
				t.Errorf("module %d: the module's own global changed", i)
			}
			g := mi.ExportedGlobal(Export)
			if (g != nil) != (i == 1) {
				t.Errorf("module %d: stop global exported: %v", i, g != nil)
			}
			mi.Close(ctx)
		}
	}
}

func TestStopInterruptsLoopsAndRecursion(t *testing.T) {
	inst, err := Instrument(testModule(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx) // no WithCloseOnContextDone: the global is the only way out
	defer rt.Close(ctx)
	for _, c := range []struct {
		fn  string
		arg []uint64
	}{{"spin", nil}, {"tree", []uint64{62}}} {
		mi, err := rt.InstantiateWithConfig(ctx, inst, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := mi.ExportedFunction(c.fn).Call(ctx, c.arg...)
			done <- err
		}()
		// The call runs until the global is set; nothing else ends it.
		mi.ExportedGlobal(Export).(api.MutableGlobal).Set(1)
		err = <-done
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("%s after the stop: %v, want a trap at unreachable", c.fn, err)
		}
		mi.Close(ctx)
	}
}

func TestInstrumentErrors(t *testing.T) {
	good := testModule(false)
	dup := mod(sec(7, append(name(Export), 0x00, 0x00)))
	badOp := mod(sec(1, []byte{0x60, 0, 0}), sec(3, []byte{0}), sec(10, body(0x00, 0xff, 0x0b)))
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not a WebAssembly binary (no \\0asm magic)"},
		{"version", []byte("\x00asm\x02\x00\x00\x00"), "binary format version 2, want 1"},
		{"truncated", good[:len(good)-3], "section 10: unexpected end"},
		{"exported already", dup, `the module already exports "gadgetry.stop"`},
		{"unknown opcode", badOp, "code section: function body 0: at byte 1: opcode 0xff unknown"},
	} {
		_, err := Instrument(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// FuzzInstrument: Instrument never panics, and a module wazero accepts is instrumented into
// one wazero accepts too.
func FuzzInstrument(f *testing.F) {
	f.Add(testModule(false))
	f.Add(testModule(true))
	f.Add(mod(sec(1, []byte{0x60, 0, 0})))
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, m []byte) {
		out, err := Instrument(m)
		c, cerr := rt.CompileModule(ctx, m)
		if cerr != nil {
			return
		}
		defer c.Close(ctx)
		if err != nil {
			if strings.Contains(err.Error(), "unknown") {
				return // a proposal this package does not decode: the host falls back
			}
			t.Fatalf("wazero compiles the module, Instrument fails: %v", err)
		}
		ci, err := rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the instrumented module does not compile: %v", err)
		}
		defer ci.Close(ctx)
		if len(ci.ExportedFunctions()) != len(c.ExportedFunctions()) || bytes.Equal(out, m) {
			t.Fatalf("exports %d, want %d", len(ci.ExportedFunctions()), len(c.ExportedFunctions()))
		}
	})
}
