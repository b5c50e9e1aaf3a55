package blockexec_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/wasm"
	"github.com/gadgetry/gadgetry/vmtest"
)

// TestInProcess runs block_exec through package runtime, in this process, with one Runtime
// (the kernel's BTF parsed once, each WASM module compiled once, which keeps it short in the
// VMs), on files of a temporary directory (--host). Here the leak check is the strictest: the
// process that loaded everything is still alive, so an object the run failed to release would
// still be held, and counted, rather than freed by the process's exit.
//
//   - policy before attach: the runtime runs the WASM guest's gadgetStart (which fills the
//     maps), then the run's other Start hooks in order, and attaches only after the last one.
//     The test's Start hook, the last, finds in the maps every exact path and glob directory of
//     a 34-entry deny list and the enabled policy entry, and no block_exec program linked yet;
//     once attached, the last path of the list is stopped.
//   - bad policy: the two policies issue 14 names (--deny-paths=sh, --mode=maybe) and a missing
//     selection fail the start before anything is loaded (no mechanism chosen) and leave nothing.
//   - WASM guest traps, attach fails: the variants of exit_test.go. The first stops the marker
//     and then its guest panics on the event: the run ends by itself; the second loads (the
//     mechanism is chosen), attaches block_exec_* and fails on zz_attach_fails. After each the
//     marker runs again and nothing of the run is left in the kernel.
//
// It runs in the VMs too (lsm), where the variants come from the host (vmtest.Prepared, and
// testdata/attach_fails.bpf.c compiled by scripts/vmtest.sh).
func TestInProcess(t *testing.T) {
	_, ref, _ := gadgetry(t)
	ctx := context.Background()
	base := resolveImage(t, ref)
	engine, err := wasm.NewEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	var logs gadgettest.SyncBuffer
	rt := runtime.New(runtime.Options{WASM: engine, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	// logged returns what the runtime logged since mark.
	logged := func(mark int) string { return logs.String()[mark:] }
	prepare := func(t *testing.T, name string, change func(img *oci.Gadget)) *runtime.Gadget {
		t.Helper()
		img := *base
		img.Ref, img.Digest, img.ManifestDigest = name, "", "" // cached by content
		if change != nil {
			change(&img)
		}
		g, err := rt.Prepare(ctx, &img)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	dir := gadgettest.RealPath(t, t.TempDir())
	marker := dir + "/marker"
	gadgettest.CopyExecutable(t, gadgettest.RealPath(t, "/bin/true"), marker)
	hostPolicy := map[string]string{"host": "true", "deny-paths": marker}
	markerRuns := func(t *testing.T, when string) {
		t.Helper()
		if got := outcome(exec.Command(marker).Run()); got != "ran" {
			t.Errorf("%s: the marker %s, want it to run", when, got)
		}
	}

	t.Run("policy before attach", func(t *testing.T) {
		var exact []string
		for i := 0; i < 30; i++ {
			exact = append(exact, fmt.Sprintf("%s/exact%d", dir, i))
		}
		last := exact[len(exact)-1]
		gadgettest.CopyExecutable(t, gadgettest.RealPath(t, "/bin/true"), last)
		globs := []string{dir + "/g1/*sh", dir + "/g1/py*", dir + "/g2/a*b", dir + "/g3/*"}
		var seen struct {
			paths          []string
			globDirs       int
			policy         []byte
			attachedBefore bool
		}
		check := runtime.Hooks{Name: "policy-check", Start: func(r *runtime.Run) error {
			for _, name := range []string{"block_exec_lsm", "block_exec_kill"} {
				if p := r.Collection().Programs[name]; p != nil && linked(t, p) {
					seen.attachedBefore = true
				}
			}
			var k, v []byte
			for it := r.Map("bexec_paths").Iterate(); it.Next(&k, &v); {
				seen.paths = append(seen.paths, string(bytes.TrimRight(k, "\x00")))
			}
			for it := r.Map("bexec_globs").Iterate(); it.Next(&k, &v); {
				seen.globDirs++
			}
			var zero uint32
			return r.Map("bexec_policy").Lookup(&zero, &seen.policy)
		}}
		before := objects(t)
		run, err := rt.Start(ctx, prepare(t, "block_exec", nil), runtime.RunOptions{
			Params: map[string]string{"host": "true", "deny-paths": strings.Join(append(slices.Clone(exact), globs...), ",")},
			Hooks:  []runtime.Hooks{check},
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen.attachedBefore {
			t.Error("a block_exec program was attached before the last Start hook")
		}
		if p := run.Collection().Programs["block_exec_"+mechanism()]; p == nil || !linked(t, p) {
			t.Errorf("block_exec_%s is not attached once the run started: the check before attach proves nothing", mechanism())
		}
		slices.Sort(seen.paths)
		want := slices.Clone(exact)
		slices.Sort(want)
		if !slices.Equal(seen.paths, want) {
			t.Errorf("bexec_paths before attach: %d entries %q, want the %d exact paths", len(seen.paths), seen.paths, len(want))
		}
		if seen.globDirs != 3 {
			t.Errorf("bexec_globs before attach: %d directories, want 3", seen.globDirs)
		}
		if len(seen.policy) == 0 || seen.policy[0] != 1 {
			t.Errorf("bexec_policy before attach: %v, want enabled (first byte 1)", seen.policy)
		}
		if got := outcome(exec.Command(last).Run()); got != stopped() {
			t.Errorf("%s once attached: %s, want %s", last, got, stopped())
		}
		if c := run.Summary().Choices; c["mechanism"] != mechanism() {
			t.Errorf("mechanism %v, want %s", c, mechanism())
		}
		if err := run.Stop(); err != nil {
			t.Errorf("stopping: %v", err)
		}
		checkNoObjects(t, before)
	})

	t.Run("bad policy", func(t *testing.T) {
		g := prepare(t, "block_exec", nil)
		before := objects(t)
		for _, c := range []struct {
			name   string
			params map[string]string
			want   string
		}{
			{"relative path", map[string]string{"host": "true", "deny-paths": "sh"}, `--deny-paths: entry 1 "sh" is not an absolute path`},
			{"unknown mode", map[string]string{"host": "true", "deny-paths": marker, "mode": "maybe"}, `--mode: "maybe" is not one of enforce, audit`},
			{"no selection", map[string]string{"deny-paths": marker}, "no containers selected"},
		} {
			mark := len(logs.String())
			run, err := rt.Start(ctx, g, runtime.RunOptions{Params: c.params})
			if err == nil {
				run.Stop()
				t.Errorf("%s: the run started", c.name)
				continue
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
			}
			if l := logged(mark); strings.Contains(l, "mechanism") {
				t.Errorf("%s: the mechanism was chosen (the load began) before the policy was refused: %s", c.name, l)
			}
		}
		checkNoObjects(t, before)
	})

	t.Run("WASM guest traps", func(t *testing.T) {
		module := readFile(t, trapModule(t))
		g := prepare(t, "block-exec-trap", func(img *oci.Gadget) { img.WASM = module })
		before := objects(t)
		run, err := rt.Start(ctx, g, runtime.RunOptions{Params: hostPolicy})
		if err != nil {
			t.Fatal(err)
		}
		// The marker is stopped (and an event made) until the guest's trap ends the run.
		stops := 0
		for waiting := true; waiting; {
			select {
			case <-run.Done():
				waiting = false
			default:
				if outcome(exec.Command(marker).Run()) == stopped() {
					stops++
				}
				time.Sleep(100 * time.Millisecond) // a poll interval, not a verdict
			}
		}
		err = run.Wait()
		if stops == 0 {
			t.Error("the marker was never stopped before the run ended")
		}
		if err == nil || !strings.Contains(err.Error(), "block_exec test: the guest traps") {
			t.Errorf("the run ended with %v, want the guest's panic", err)
		}
		markerRuns(t, "after the guest trapped")
		checkNoObjects(t, before)
	})

	t.Run("attach fails", func(t *testing.T) {
		obj := readFile(t, vmtest.BPFObject(t, "testdata/attach_fails.bpf.c"))
		g := prepare(t, "block-exec-attach", func(img *oci.Gadget) { img.EBPF = obj })
		before := objects(t)
		mark := len(logs.String())
		run, err := rt.Start(ctx, g, runtime.RunOptions{Params: hostPolicy})
		if err == nil {
			run.Stop()
			t.Fatal("the run started although zz_attach_fails cannot attach")
		}
		if !strings.Contains(err.Error(), "zz_attach_fails") {
			t.Errorf("%v, want it to name zz_attach_fails", err)
		}
		if l := logged(mark); !strings.Contains(l, "mechanism "+mechanism()+": program block_exec_"+mechanism()+" runs") {
			t.Errorf("no mechanism %s was loaded before the attach failed: %s", mechanism(), l)
		}
		markerRuns(t, "after the failed attach")
		checkNoObjects(t, before)
	})
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// linked reports whether a BPF link of this process attaches p.
func linked(t *testing.T, p *ebpf.Program) bool {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return gadgettest.LinkedPrograms(t)[id]
}

// resolveImage returns the image ref names: on the host the one built into the test store, in
// the VM the built-in one.
func resolveImage(t *testing.T, ref string) *oci.Gadget {
	t.Helper()
	ctx := context.Background()
	res := &oci.Resolver{}
	if kernel.InVM() {
		cat, err := catalogue.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res.Catalogue = cat
	} else {
		s, err := oci.OpenStore(image.store)
		if err != nil {
			t.Fatal(err)
		}
		res.Store = s
	}
	img, err := res.Resolve(ctx, ref, oci.PullNever, goruntime.GOARCH)
	if err != nil {
		t.Fatalf("resolving %s: %v", ref, err)
	}
	return img
}
