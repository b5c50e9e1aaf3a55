package blockexec_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// TestPolicyBeforeAttach: the whole policy is in the kernel before the first program attaches,
// so no exec meets half a policy. The runtime runs the WASM guest's gadgetStart (which fills the
// maps), then the run's other Start hooks in order, and attaches only after the last one; this
// test's Start hook, the last, reads the gadget's maps there: every exact path and every glob
// directory of the policy is in them, and the policy entry is enabled. Once attached, a listed
// file is stopped by the mechanism this kernel enforces with. The run is in-process (package
// runtime) with the image the other tests run through the binary.
func TestPolicyBeforeAttach(t *testing.T) {
	_, ref, _ := gadgetry(t)
	dir := gadgettest.RealPath(t, t.TempDir())
	trueBin := gadgettest.RealPath(t, "/bin/true")
	var exact []string
	for i := 0; i < 30; i++ {
		exact = append(exact, fmt.Sprintf("%s/exact%d", dir, i))
	}
	globs := []string{dir + "/g1/*sh", dir + "/g1/py*", dir + "/g2/a*b", dir + "/g3/*"}
	gadgettest.CopyExecutable(t, trueBin, exact[len(exact)-1])

	ctx := context.Background()
	img := resolveImage(t, ref)
	engine, err := wasm.NewEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	rt := runtime.New(runtime.Options{WASM: engine, Logger: slog.New(slog.NewTextHandler(testLog{t}, nil))})
	g, err := rt.Prepare(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	var seen struct {
		paths          []string
		globDirs       int
		policy         []byte
		attachedBefore bool
	}
	check := runtime.Hooks{Name: "policy-check", Start: func(r *runtime.Run) error {
		// Nothing of the gadget is attached yet (its programs would hold links).
		for _, name := range []string{"block_exec_lsm", "block_exec_kill"} {
			if p := r.Collection().Programs[name]; p != nil && linkedProgram(t, p) {
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
	run, err := rt.Start(ctx, g, runtime.RunOptions{
		Params: map[string]string{"host": "true", "deny-paths": strings.Join(append(slices.Clone(exact), globs...), ",")},
		Hooks:  []runtime.Hooks{check},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()

	if seen.attachedBefore {
		t.Error("a block_exec program was attached before the last Start hook")
	}
	if p := run.Collection().Programs["block_exec_"+mechanism()]; p == nil || !linkedProgram(t, p) {
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
	// Attached now: the last path of the list is stopped.
	if got := outcome(exec.Command(exact[len(exact)-1]).Run()); got != stopped() {
		t.Errorf("%s once attached: %s, want %s", exact[len(exact)-1], got, stopped())
	}
	if c := run.Summary().Choices; c["mechanism"] != mechanism() {
		t.Errorf("mechanism %v, want %s", c, mechanism())
	}
}

// linkedProgram reports whether some link holds p (bpf_link fds of this process name their
// program in fdinfo; the runtime attaches through links).
func linkedProgram(t *testing.T, p *ebpf.Program) bool {
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

// testLog writes the runtime's warnings to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
