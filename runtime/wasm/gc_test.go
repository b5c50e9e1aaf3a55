package wasm

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestGCWhileGuestLoops: a garbage collection that starts while a guest's data callback
// loops completes, and the run's stop request still ends the callback. Go stops the world for
// a collection and compiled guest code is no safe point: the goroutine running a guest reaches
// one only when the code calls into Go, which wazero's close-on-context-done check does at
// every loop iteration. A guest that never did (a stop flag compiled into the module, tried and
// undone: docs/RATIONALE.md) would hold the collection, and with it the watchdog that stops
// it, forever. The guest runs in a child process, so such a regression fails this test (its
// hang guard: two minutes) instead of hanging the suite.
func TestGCWhileGuestLoops(t *testing.T) {
	if os.Getenv("GADGETRY_TEST_GC_LOOP") == "child" {
		gcWhileGuestLoops(t)
		return
	}
	mod := guest(t, "bad") // built here, once, and handed to the child
	path := t.TempDir() + "/bad.wasm"
	if err := os.WriteFile(path, mod, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGCWhileGuestLoops$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GADGETRY_TEST_GC_LOOP=child", "GADGETRY_TEST_GC_LOOP_MODULE="+path)
	out := &gadgettest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "--- PASS: TestGCWhileGuestLoops") {
			t.Fatalf("child: %v\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Signal(syscall.SIGQUIT) // its goroutines, for the report
		<-done
		t.Fatalf("the child hung: a collection that started while the guest looped never ended (hang guard)\n%s", out.String())
	}
}

func gcWhileGuestLoops(t *testing.T) {
	mod, err := os.ReadFile(os.Getenv("GADGETRY_TEST_GC_LOOP_MODULE"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Options{HookTimeout: time.Minute, CallbackTimeout: time.Hour})
	run := newFakeRun(t, map[string]string{"mode": "loop"})
	inst, err := e.Instantiate(context.Background(), "gc-loop", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	currentRun = run
	if err := inst.Init(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- emitOne(inst) }()
	// In the callback, and past its first steps: it has burnt 100 ms of CPU since, which only
	// its endless loop does.
	for inst.seq.Load()%2 == 0 || !inst.inCallback.Load() {
		time.Sleep(time.Millisecond)
	}
	for start := processCPU(); processCPU()-start < 100*time.Millisecond; {
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	inst.Interrupt(0)
	err = <-errc
	if want := "gadget gc-loop: wasm dataSourceCallback failed: still running after the run was asked to stop, 0s of CPU later (killed; a data callback must not block or loop)"; err == nil || err.Error() != want {
		t.Fatalf("callback error %v, want %q", err, want)
	}
}
