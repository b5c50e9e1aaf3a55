package runtime_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/output"
	"github.com/gadgetry/gadgetry/runtime/wasm"

	"context"
)

func buildGuest(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = filepath.Join(gadgettest.TestdataDir(), "wasmguest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the WASM guest: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWASMGuestInPipeline: the guest, run at Init, drops every event but those of the "keep"
// comm and adds a field; the output (subscribed after it) sees exactly that.
func TestWASMGuestInPipeline(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	engine, err := wasm.NewEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	bin := gadgettest.UniqueExecutable(t)
	other := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(bin)
	img := gadgettest.Image("wasm_exec", gadgettest.Compile(t, "exec"), "params:\n  wasm:\n    keep:\n      key: keep\n      description: comm to keep\n")
	img.WASM = buildGuest(t)
	rt := runtime.New(runtime.Options{WASM: engine})
	g, err := rt.Prepare(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if g.Param("keep") == nil {
		t.Fatal("wasm param keep not listed")
	}
	var c capture
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{
		Params: map[string]string{"keep": comm},
		Hooks:  []runtime.Hooks{c.hooks(t, output.JSON, "proc.comm,seen", "")},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := c.wait(t, run, 1, func() { runBin(t, other); runBin(t, bin) })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Proc struct{ Comm string }
			Seen string
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if ev.Proc.Comm != comm || ev.Seen != "by-wasm" {
			t.Errorf("event %s passed the guest (want only comm %s with seen=by-wasm)", line, comm)
		}
	}
	if s := run.Summary(); s.DataSources["exec"].Dropped == 0 {
		t.Errorf("the guest dropped nothing: %+v", s.DataSources["exec"])
	}
	gadgettest.CheckClean(t, prefix, before)

	// Without an engine, an image with WASM is refused with a clear error.
	_, err = runtime.New(runtime.Options{}).Start(context.Background(), g, runtime.RunOptions{})
	wantErr(t, err, "gadget wasm_exec has a WASM module", "runtime.Options.WASM")
}
