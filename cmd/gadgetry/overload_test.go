package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestStopUnderFlood floods gadget flood-test (testdata/flood: one record per getppid call of
// this process, into a 64 KiB ring) and ends each run with --timeout, SIGINT, SIGTERM or two
// SIGINTs while
// its WASM guest handles every event at once (fast), spends 2 ms on each (slow, far slower
// than the flood), or never returns from its first event (loop). Every run must end by itself
// (the hang guard is a minute) and leave no BPF object behind; the slow guest's run says what
// it lost and names the guest in a warning with its cost per event, the looping one's error
// names the guest.
func TestStopUnderFlood(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	bin := runTestBinary(t)
	dir := t.TempDir()
	src := filepath.Join("testdata", "flood")
	for _, name := range []string{"program.bpf.c", "gadget.yaml", "build.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		gadgettest.WriteFile(t, filepath.Join(dir, name), string(b), 0o644)
	}
	wasm := gadgettest.WASM(t, filepath.Join(src, "guest"))
	if err := os.WriteFile(filepath.Join(dir, "guest.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	gadgettest.BuildImage(t, bin, store, dir, "flood-test")

	// The flood: getppid as fast as one goroutine can, until the test ends.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			for range 1000 {
				syscall.Getppid()
			}
		}
	}()

	for _, guest := range []string{"fast", "slow", "loop"} {
		for _, end := range []string{"timeout", "SIGINT", "SIGTERM", "SIGINT twice"} {
			t.Run(guest+"/"+end, func(t *testing.T) {
				before := gadgettest.Objects(t, "gtest")
				args := []string{"--store", store, "run", "flood-test", "--pull", "never", "-o", "json",
					"--tgid", strconv.Itoa(os.Getpid()), "--mode", guest}
				if end == "timeout" {
					args = append(args, "--timeout", "2")
				}
				r := gadgettest.StartCLI(t, nil, bin, args...)
				// Wait until the guest is at work: an event printed, the slow guest's
				// warning, the looping guest's "looping".
				switch guest {
				case "fast":
					r.WaitFor("a flood event", func(gadgettest.Event) bool { return true }, nil)
				case "slow":
					if end != "timeout" {
						waitStderr(t, r, "per event in its data callbacks")
					}
				case "loop":
					waitStderr(t, r, "looping")
				}
				switch end {
				case "SIGINT":
					r.Signal(syscall.SIGINT)
				case "SIGTERM":
					r.Signal(syscall.SIGTERM)
				case "SIGINT twice":
					// The second exits at once whatever the first is doing. If the two
					// arrive together they are one signal: the run then ends as after one.
					r.Signal(syscall.SIGINT)
					time.Sleep(100 * time.Millisecond)
					if r.Running() {
						r.Signal(syscall.SIGINT)
					}
				}
				err := r.Wait()
				stderr := r.Stderr()
				if end == "SIGINT twice" {
					// Exit 130 at once, the summary so far on stderr (a looping guest's run
					// may also have been killed by the first SIGINT's grace: then its error).
					// (CLIRun.Wait takes 130 after its own SIGINT as a clean end: nil.)
					if err != nil && exitCode(err) != 130 && !(guest == "loop" && strings.Contains(stderr, "wasm dataSourceCallback failed")) {
						t.Errorf("gadgetry exited with %v; stderr:\n%s", err, stderr)
					}
				} else if guest == "loop" {
					want := "gadget flood-test: wasm dataSourceCallback failed: still running after the run was asked to stop, 500ms of CPU later (killed; a data callback must not block or loop)"
					if err == nil || !strings.Contains(stderr, want) {
						t.Errorf("gadgetry exited with %v; stderr does not say %q:\n%s", err, want, stderr)
					}
				} else if err != nil && !(end == "SIGINT" && exitCode(err) == 130) {
					t.Errorf("gadgetry exited with %v; stderr:\n%s", err, stderr)
				}
				if guest == "slow" && end != "timeout" && !strings.Contains(stderr, "warning: gadget flood-test: its wasm module takes ") {
					t.Errorf("no slow-guest warning:\n%s", stderr)
				}
				// The slow guest cannot keep up: the 64 KiB ring overflows for certain and the
				// run says so (the fast one may keep up, the looping one may be stopped first).
				if guest == "slow" && !strings.Contains(stderr, "lost") {
					t.Errorf("the run does not say what it lost:\n%s", stderr)
				}
				gadgettest.CheckClean(t, "gtest", before)
				t.Logf("stderr:\n%s", stderr)
			})
		}
	}
}

// waitStderr waits until gadgetry's stderr contains s (a minute at most: a hang guard).
func waitStderr(t *testing.T, r *gadgettest.CLIRun, s string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(r.Stderr(), s); {
		if !r.Running() || time.Now().After(deadline) {
			t.Fatalf("gadgetry's stderr never said %q (running: %v):\n%s", s, r.Running(), r.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitCode returns a process's exit status, or -1.
func exitCode(err error) int {
	if e, ok := err.(interface{ ExitCode() int }); ok {
		return e.ExitCode()
	}
	return -1
}
