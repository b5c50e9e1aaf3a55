package wasm

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// spinModule assembles, by hand, a gadget module whose gadgetAPIVersion returns 1 and where
// one function never returns: `where` is "init" (gadgetInit loops), "initialize" (_initialize
// loops) or "recurse" (gadgetInit calls itself twice per call: 2^62 calls, no loop). taken
// exports a global under stopcheck's name, which stopcheck refuses to instrument: that module
// runs in the engine's guarded runtime.
func spinModule(where string, taken bool) []byte {
	exports := [][]byte{append(asmName("gadgetAPIVersion"), 0x00, 0x00), append(asmName("gadgetInit"), 0x00, 0x01)}
	if where == "initialize" {
		exports = append(exports, append(asmName("_initialize"), 0x00, 0x03))
	}
	if taken {
		exports = append(exports, append(asmName("gadgetry.stop"), 0x03, 0x00))
	}
	spin := []byte{0x03, 0x40, 0x0c, 0x00, 0x0b} // loop br 0 end
	version := asmBody(0x41, 0x01, 0x0b)
	init := asmBody(0x41, 0x00, 0x0b)
	switch where {
	case "init":
		init = asmBody(append(spin, 0x00, 0x0b)...) // the loop, unreachable
	case "recurse":
		init = asmBody(0x41, 0x3e, 0x10, 0x02, 0x0b) // tree(62)
	}
	tree := asmBody(
		0x20, 0x00, 0x45, 0x04, 0x7f, 0x41, 0x00, 0x05, // n == 0 ? 0 :
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02, 0x6a, // tree(n-1)+tree(n-1)
		0x0b, 0x0b)
	initialize := asmBody(0x0b)
	if where == "initialize" {
		initialize = asmBody(append(spin, 0x0b)...)
	}
	return asmModule(
		asmSection(1, asmVec([]byte{0x60, 0x00, 0x01, 0x7f}, []byte{0x60, 0x01, 0x7f, 0x01, 0x7f}, []byte{0x60, 0x00, 0x00})), // types
		asmSection(3, asmVec([]byte{0}, []byte{0}, []byte{1}, []byte{2})),                                                     // funcs
		asmSection(6, asmVec([]byte{0x7f, 0x01, 0x41, 0x00, 0x0b})),                                                           // a mutable i32
		asmSection(7, asmVec(exports...)),
		asmSection(10, asmVec(version, init, tree, initialize)),
	)
}

// TestStopGuestWithoutLoopChecks: a guest that never returns, in a loop or in a recursion
// without one, during _initialize or a hook, is killed at its limit and says so, both in the
// runtime where stopcheck's global stops it and, but for the recursion, in the guarded one
// (wazero's context check) that takes the modules stopcheck cannot rewrite. The limit is wall
// time, but the verdict does not depend on the machine's speed: nothing but the kill ends
// these calls.
func TestStopGuestWithoutLoopChecks(t *testing.T) {
	e := newEngine(t, Options{HookTimeout: 200 * time.Millisecond})
	for _, taken := range []bool{false, true} {
		for _, where := range []string{"init", "recurse", "initialize"} {
			if taken && where == "recurse" {
				continue // wazero checks for its context at loop heads only: this never stops
			}
			name := fmt.Sprintf("%s-guarded-%v", where, taken)
			t.Run(name, func(t *testing.T) {
				run := newFakeRun(t, nil)
				inst, err := e.Instantiate(context.Background(), name, spinModule(where, taken), "", run.env())
				if where == "initialize" {
					want := "gadget " + name + ": wasm instantiate failed: did not return within 200ms (killed; a hook or callback must not block or loop)"
					if err == nil || err.Error() != want {
						t.Fatalf("Instantiate: %v, want %q", err, want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer inst.Close()
				if (inst.stopFlag == nil) != taken {
					t.Fatalf("stop global present: %v, want %v", inst.stopFlag != nil, !taken)
				}
				want := "gadget " + name + ": wasm gadgetInit failed: did not return within 200ms (killed; a hook or callback must not block or loop)"
				if err := inst.Init(); err == nil || err.Error() != want {
					t.Fatalf("Init: %v, want %q", err, want)
				}
			})
		}
	}
}
