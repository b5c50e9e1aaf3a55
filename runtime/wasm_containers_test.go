package runtime_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// resultLog is a slog handler that keeps the "result container=..." lines a guest logs.
type resultLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *resultLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *resultLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *resultLog) WithGroup(string) slog.Handler            { return l }
func (l *resultLog) Handle(_ context.Context, r slog.Record) error {
	if v, ok := strings.CutPrefix(r.Message, "result container="); ok {
		l.mu.Lock()
		l.lines = append(l.lines, v)
		l.mu.Unlock()
	}
	return nil
}

func (l *resultLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// wait waits for line (a hang guard ends it after a minute).
func (l *resultLog) wait(t *testing.T, line string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if slices.Contains(l.all(), line) {
			return
		}
	}
	t.Fatalf("the guest was not told %q; it was told %q", line, l.all())
}

// TestWASMContainersDataSource: a guest written as for Inspektor Gadget (raw ABI) subscribes
// to the containers data source in gadgetStart, as IG's traceloop does; it is told of the
// selected container running before the run, of one that starts and stops during it (created,
// then deleted, with IG's fields), and never of a container the selection leaves out.
func TestWASMContainersDataSource(t *testing.T) {
	gadgettest.RequireRoot(t)
	env := runc.NewEnv(t)
	before := gadgettest.Objects(t, prefix)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	first, second, other := "ct-first-"+suffix, "ct-second-"+suffix, "ct-other-"+suffix
	c1 := env.Start(runc.Options{Name: first})

	cache, err := containers.New(context.Background(), containers.Options{RuncRoots: []string{env.Root}, NoDefaultRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	engine, err := wasm.NewEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	img := gadgettest.Image("wasm_containers", gadgettest.Compile(t, "exec"), "")
	img.WASM = gadgettest.WASM(t, filepath.Join(gadgettest.TestdataDir(), "wasmcontainers"))
	logs := &resultLog{}
	rt := runtime.New(runtime.Options{WASM: engine, Logger: slog.New(logs)})
	g, err := rt.Prepare(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	sel := containers.Selector{Include: []string{first, second}}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{runtime.ContainerHooks(cache, sel)}})
	if err != nil {
		t.Fatal(err)
	}
	line := func(typ, name string, c *runc.Container) string {
		return typ + "," + name + "," + c.ID + "," + strconv.FormatUint(c.MntNS, 10)
	}
	logs.wait(t, line("CREATED", first, c1))

	o := env.Start(runc.Options{Name: other})
	c2 := env.Start(runc.Options{Name: second})
	logs.wait(t, line("CREATED", second, c2))
	// The cache knows the other container before the second one goes: its event, if the
	// selection let it through, would come before the deletion's.
	for deadline := time.Now().Add(time.Minute); len(cache.Select(containers.Selector{Include: []string{other}})) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the cache never learnt container %s", other)
		}
	}
	c2.Delete()
	logs.wait(t, line("DELETED", second, c2))
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, l := range logs.all() {
		if strings.Contains(l, other) || strings.Contains(l, o.ID) {
			t.Errorf("the guest was told of %s, which the selection leaves out: %q", other, l)
		}
	}
	if got := len(logs.all()); got != 3 {
		t.Errorf("the guest was told %d events, want 3: %q", got, logs.all())
	}
	gadgettest.CheckClean(t, prefix, before)
}

// staticSelection is a MntnsSelection that never changes.
type staticSelection map[uint64]bool

func (s staticSelection) Selected(mntns uint64) bool { return s[mntns] }
func (s staticSelection) Watch(func(uint64, bool)) ([]uint64, func()) {
	var cur []uint64
	for m := range s {
		cur = append(cur, m)
	}
	return cur, func() {}
}

// TestWASMContainersSelectionWithoutMntns: a gadget that records no mount namespace but asks
// for the containers data source (gadget.yaml `annotations: enable-containers-datasource:
// "true"`, as IG's traceloop, whose module records what that data source announces) selects
// containers through it, by name (ContainerHooks, -c) and by pod (SelectionHooks): its guest is
// told of the selected container only. A gadget with neither cannot select pods.
func TestWASMContainersSelectionWithoutMntns(t *testing.T) {
	gadgettest.RequireRoot(t)
	env := runc.NewEnv(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	in, out := "ct-in-"+suffix, "ct-out-"+suffix
	cin, cout := env.Start(runc.Options{Name: in}), env.Start(runc.Options{Name: out})
	cache, err := containers.New(context.Background(), containers.Options{RuncRoots: []string{env.Root}, NoDefaultRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	for _, name := range []string{in, out} {
		for deadline := time.Now().Add(time.Minute); len(cache.Select(containers.Selector{Include: []string{name}})) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the cache never learnt container %s", name)
			}
		}
	}
	engine, err := wasm.NewEngine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	guest := gadgettest.WASM(t, filepath.Join(gadgettest.TestdataDir(), "wasmcontainers"))
	prepare := func(t *testing.T, rt *runtime.Runtime, yaml string) *runtime.Gadget {
		img := gadgettest.Image("wasm_ctsel", gadgettest.Compile(t, "rawring"), yaml)
		img.WASM = guest
		g, err := rt.Prepare(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	before := gadgettest.Objects(t, prefix)
	for _, tc := range []struct {
		name  string
		hooks []runtime.Hooks
	}{
		{"by name", []runtime.Hooks{runtime.ContainerHooks(cache, containers.Selector{Include: []string{in}})}},
		{"by pod", []runtime.Hooks{runtime.ContainerHooks(cache, containers.Selector{}), runtime.SelectionHooks(staticSelection{cin.MntNS: true})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &resultLog{}
			rt := runtime.New(runtime.Options{WASM: engine, Logger: slog.New(logs)})
			g := prepare(t, rt, "annotations:\n  enable-containers-datasource: \"true\"\n")
			if g.HasMntnsField() || !g.SelectsContainers() {
				t.Fatalf("HasMntnsField %v, SelectsContainers %v: want false, true", g.HasMntnsField(), g.SelectsContainers())
			}
			run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: tc.hooks})
			if err != nil {
				t.Fatal(err)
			}
			logs.wait(t, "CREATED,"+in+","+cin.ID+","+strconv.FormatUint(cin.MntNS, 10))
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			for _, l := range logs.all() {
				if strings.Contains(l, out) || strings.Contains(l, cout.ID) {
					t.Errorf("the guest was told of %s, which the selection leaves out: %q", out, l)
				}
			}
		})
	}
	t.Run("neither", func(t *testing.T) {
		rt := runtime.New(runtime.Options{WASM: engine})
		g := prepare(t, rt, "")
		if g.SelectsContainers() {
			t.Fatal("SelectsContainers: want false without the annotation")
		}
		_, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{runtime.SelectionHooks(staticSelection{cin.MntNS: true})}})
		wantErr(t, err, "records no mount namespace", "enable-containers-datasource")
	})
	gadgettest.CheckClean(t, prefix, before)
}
