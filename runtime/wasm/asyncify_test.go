package wasm

import (
	"context"
	"strings"
	"testing"
)

// TestAsyncifyWarning: a module exporting asyncify_get_state (TinyGo's default scheduler) gets
// a warning at load that says how to build it; one without it gets none.
func TestAsyncifyWarning(t *testing.T) {
	// (module (func (export "gadgetAPIVersion") (result i64) i64.const 1)
	//         (func (export "asyncify_get_state") (result i32) i32.const 0)), compiled by hand.
	mod := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x09, 0x02, 0x60, 0x00, 0x01, 0x7e, 0x60, 0x00, 0x01, 0x7f, // types
		0x03, 0x03, 0x02, 0x00, 0x01, // funcs
		0x07, 0x29, 0x02, // exports
		0x10, 'g', 'a', 'd', 'g', 'e', 't', 'A', 'P', 'I', 'V', 'e', 'r', 's', 'i', 'o', 'n', 0x00, 0x00,
		0x12, 'a', 's', 'y', 'n', 'c', 'i', 'f', 'y', '_', 'g', 'e', 't', '_', 's', 't', 'a', 't', 'e', 0x00, 0x01,
		0x0a, 0x0b, 0x02, 0x04, 0x00, 0x42, 0x01, 0x0b, 0x04, 0x00, 0x41, 0x00, 0x0b, // code
	}
	const want = "gadget asyncified: its wasm module was built with TinyGo's asyncify scheduler: every call into it allocates a fresh stack and costs milliseconds; rebuild it with -scheduler=none (gadgetry image build does)"
	e := newEngine(t, Options{})
	run := newFakeRun(t, nil)
	inst, err := e.Instantiate(context.Background(), "asyncified", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	inst.Close()
	if logs := run.log.dump(); !strings.Contains(logs, "WARN "+want) {
		t.Errorf("no asyncify warning; the log:\n%s", logs)
	}
	plain := newFakeRun(t, nil)
	inst, err = e.Instantiate(context.Background(), "plain", guest(t, "igstyle"), "", plain.env())
	if err != nil {
		t.Fatal(err)
	}
	inst.Close()
	if logs := plain.log.dump(); strings.Contains(logs, "asyncify") {
		t.Errorf("a module without asyncify got the warning:\n%s", logs)
	}
}
