package runtime_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// hogYAML declares the params of the hog guest (runtime/wasm/testdata/hog).
const hogYAML = `name: hog
params:
  wasm:
    where:
      key: where
      description: init or callback
    mib:
      key: mib
      description: MiB to allocate
    ds:
      key: ds
      description: the data source to subscribe to
`

// TestWASMMemoryLimit runs the exec gadget with a guest that grows its memory past the run's
// limit, in gadgetInit and then in its first event callback: the run fails with the limit
// error, and nothing of it stays in the kernel. Under a raised limit the same guest runs.
func TestWASMMemoryLimit(t *testing.T) {
	gadgettest.RequireRoot(t)
	engine, err := wasm.NewEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	img := gadgettest.Image("hog", gadgettest.Compile(t, "exec"), hogYAML)
	img.WASM = gadgettest.WASM(t, filepath.Join("wasm", "testdata", "hog"))
	rt := runtime.New(runtime.Options{WASM: engine})
	g, err := rt.Prepare(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	const want = "gadget hog: wasm module exceeded its memory limit (64 MiB); raise it with --wasm-memory-limit"
	// start runs the guest growing to 128 MiB at where, under limitMiB.
	start := func(where string, limitMiB uint32) (*runtime.Run, error) {
		return rt.Start(context.Background(), g, runtime.RunOptions{
			Params:             map[string]string{"where": where, "mib": "128", "ds": "exec"},
			WASMMemoryLimitMiB: limitMiB,
		})
	}

	t.Run("init", func(t *testing.T) {
		before := gadgettest.Objects(t, prefix)
		_, err := start("init", 64)
		if err == nil || err.Error() != want || !errors.Is(err, wasm.ErrMemoryLimit) {
			t.Fatalf("Start: %v, want %q", err, want)
		}
		gadgettest.CheckClean(t, prefix, before)
	})

	t.Run("callback", func(t *testing.T) {
		before := gadgettest.Objects(t, prefix)
		run, err := start("callback", 64)
		if err != nil {
			t.Fatal(err)
		}
		// The run ends by itself at the first exec event; execs until it does.
		bin := gadgettest.UniqueExecutable(t)
		guard := time.After(time.Minute)
	wait:
		for {
			runBin(t, bin)
			select {
			case <-run.Done():
				break wait
			case <-time.After(50 * time.Millisecond):
			case <-guard:
				run.Stop()
				t.Fatal("the run did not end within a minute of execs (hang guard)")
			}
		}
		if err := run.Wait(); err == nil || err.Error() != want || !errors.Is(err, wasm.ErrMemoryLimit) {
			t.Fatalf("run: %v, want %q", err, want)
		}
		gadgettest.CheckClean(t, prefix, before)
	})

	t.Run("raised", func(t *testing.T) {
		before := gadgettest.Objects(t, prefix)
		run, err := start("init", 192)
		if err != nil {
			t.Fatalf("128 MiB under a 192 MiB limit: %v", err)
		}
		if err := run.Stop(); err != nil {
			t.Fatal(err)
		}
		gadgettest.CheckClean(t, prefix, before)
	})
}
