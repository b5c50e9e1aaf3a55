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
