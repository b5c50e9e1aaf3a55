package wasm

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// all returns the values of every "result key=..." line the guest logged, in order.
func (r *logRecorder) all(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		if _, rest, ok := strings.Cut(m, " result "+key+"="); ok {
			v, _, _ := strings.Cut(rest, " hook=")
			out = append(out, v)
		}
	}
	return out
}

// execRun is a fakeRun with data source "exec": args char[32] (argv, NUL-separated, as IG's
// trace_exec records it), args_size, args_count, comm char[16].
type execRun struct {
	*fakeRun
	exec                     *datasource.DataSource
	args, size, count, commF *datasource.Field
}

func newExecRun(t *testing.T, params map[string]string) *execRun {
	r := &execRun{fakeRun: newFakeRun(t, params)}
	r.exec = datasource.New("exec", datasource.TypeSingle, 56)
	var err error
	for _, f := range []struct {
		p         **datasource.Field
		name      string
		kind      datasource.Kind
		off, size int
	}{
		{&r.args, "args", datasource.KindCString, 0, 32},
		{&r.size, "args_size", datasource.KindUint32, 32, 4},
		{&r.count, "args_count", datasource.KindInt32, 36, 4},
		{&r.commF, "comm", datasource.KindCString, 40, 16},
	} {
		if *f.p, err = r.exec.AddStaticField(f.name, f.kind, f.off, f.size); err != nil {
			t.Fatal(err)
		}
	}
	r.ds["exec"] = r.exec
	return r
}

func (r *execRun) emitExec(t *testing.T, argv []string, comm string) *datasource.Data {
	t.Helper()
	d := r.exec.NewData()
	raw := strings.Join(argv, "\x00") + "\x00"
	copy(d.Raw[0:32], raw)
	_ = r.size.SetUint(d, uint64(len(raw)))
	_ = r.count.SetUint(d, uint64(len(argv)))
	_ = r.commF.SetString(d, comm)
	if _, err := r.exec.Emit(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestIGStyleBuffers runs testdata/igguest, a module written as for Inspektor Gadget: a char[N]
// field read as bytes gives the whole array, NULs included, so its argv rebuilt from the
// NUL-separated args is complete (IG's trace_exec guest; before, every args came out empty);
// a buffer too small for the value gets -1, as from IG's host, since IG's getters take the
// result for the bytes written; syscall declarations come in IG's layout, by the syscall's
// name even where the kernel's tracepoint is named otherwise (IG's traceloop). A guest that asked for a field copy without announcing an SDK
// version (Gadgetry's SDK v0.3.0 and v0.4.0) keeps what those SDKs expect: the text up to the
// first NUL, and the length it needs for a buffer too small.
func TestIGStyleBuffers(t *testing.T) {
	mod := guest(t, "igguest")
	for _, legacy := range []bool{false, true} {
		name := map[bool]string{false: "ig", true: "sdk-v0.4.0"}[legacy]
		t.Run(name, func(t *testing.T) {
			run := newExecRun(t, map[string]string{"legacy": map[bool]string{false: "false", true: "true"}[legacy]})
			inst, err := newEngine(t, Options{}).Instantiate(context.Background(), "igguest", mod, "", run.env())
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close()
			defer func() {
				if t.Failed() {
					t.Log(run.log.dump())
				}
			}()
			if err := inst.Init(); err != nil {
				t.Fatal(err)
			}
			d := run.emitExec(t, []string{"/bin/ls", "-l", "/tmp dir"}, "bash")
			// Declarations in IG's layout (no types), as IG's traceloop reads them; fstat's
			// tracepoint is the kernel's newfstat.
			decl, fstat := "openat,4,dfd:0,filename:1,flags:0,mode:0", "fstat,2,fd:0,statbuf:1"
			want := map[string]string{"args.n": "32", "args.small": "-1", "comm": "bash,true", "decl.openat": decl, "decl.fstat": fstat}
			wantArgs := "/bin/ls -l /tmp dir"
			if legacy {
				// The text up to the first NUL: argv[0] without its NUL, so no argument.
				want = map[string]string{"legacy": "0", "args.n": "7", "args.small": "7", "comm": "bash,true", "decl.openat": decl, "decl.fstat": fstat}
				wantArgs = ""
			}
			for k, v := range want {
				if got := run.log.result(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := run.args.String(d); got != wantArgs {
				t.Errorf("args after the guest = %q, want %q", got, wantArgs)
			}
			if got, want := inst.Stats().HostErrors, map[bool]uint64{false: 1, true: 0}[legacy]; got != want {
				t.Errorf("host errors: %d, want %d (the too-small buffer)", got, want)
			}
		})
	}
}

// fakeContainers is a Containers whose changes the test makes.
type fakeContainers struct {
	mu      sync.Mutex
	current []Container
	fn      func(Container, bool)
	watches int
}

func (f *fakeContainers) WatchContainers(fn func(Container, bool)) ([]Container, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fn = fn
	f.watches++
	return slices.Clone(f.current), func() {}
}

func (f *fakeContainers) change(c Container, added bool) {
	f.mu.Lock()
	fn := f.fn
	f.mu.Unlock()
	fn(c, added)
}

// TestContainersDataSource: a guest subscribed (in gadgetStart, as IG's traceloop) to the
// containers data source is told of the containers present once gadgetStart returned, then of
// those that start and stop, each once, with IG's fields; nothing after gadgetStop begins.
// A run without a container source has no such data source.
func TestContainersDataSource(t *testing.T) {
	mod := guest(t, "igguest")
	run := newExecRun(t, map[string]string{"legacy": "false", "mapofmaps": "false", "perf": "false"})
	src := &fakeContainers{current: []Container{{ID: "id-a", Name: "a", MntNS: 11, CgroupID: 1}}}
	env := run.env()
	env.Containers = src
	inst, err := newEngine(t, Options{}).Instantiate(context.Background(), "igguest", mod, "", env)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	defer func() {
		if t.Failed() {
			t.Log(run.log.dump())
		}
	}()
	for _, h := range []func() error{inst.Init, inst.PreStart, inst.Start} {
		if err := h(); err != nil {
			t.Fatal(err)
		}
	}
	if src.watches != 1 {
		t.Fatalf("%d watches after gadgetStart, want 1", src.watches)
	}
	src.change(Container{ID: "id-b", Name: "b", MntNS: 12}, true)
	src.change(Container{ID: "id-b", Name: "b", MntNS: 12}, true) // learnt more: not again
	src.change(Container{ID: "id-a", Name: "a", MntNS: 11}, false)
	src.change(Container{ID: "id-c", Name: "c", MntNS: 13}, false) // never added: nothing
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	src.change(Container{ID: "id-d", Name: "d", MntNS: 14}, true) // after the stop: nothing
	want := []string{"CREATED,a,id-a,11", "CREATED,b,id-b,12", "DELETED,a,id-a,11"}
	if got := run.log.all("container"); !slices.Equal(got, want) {
		t.Errorf("the guest saw %q, want %q", got, want)
	}

	// No container source: getDataSource("containers") fails, as on IG without the
	// annotation, and this guest goes on without it.
	run2 := newExecRun(t, map[string]string{"legacy": "false", "mapofmaps": "false", "perf": "false"})
	inst2, err := newEngine(t, Options{}).Instantiate(context.Background(), "igguest", mod, "", run2.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst2.Close()
	for _, h := range []func() error{inst2.Init, inst2.PreStart, inst2.Start} {
		if err := h(); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(run2.log.dump(), `no data source \"containers\"`) && !strings.Contains(run2.log.dump(), `no data source "containers"`) {
		t.Errorf("the log does not say there is no containers data source:\n%s", run2.log.dump())
	}
}

// TestIGStyleMapOfMaps: as on Inspektor Gadget, a map of maps takes the handle of the inner
// map as the value of mapUpdate, and mapLookup gives a new handle of the inner map, which the
// guest releases (IG's traceloop keeps a perf buffer per container that way).
func TestIGStyleMapOfMaps(t *testing.T) {
	requireBPF(t)
	mod := guest(t, "igguest")
	run := newExecRun(t, map[string]string{"legacy": "false", "mapofmaps": "true", "perf": "false"})
	outer, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.HashOfMaps, KeySize: 8, ValueSize: 4, MaxEntries: 8,
		InnerMap: &ebpf.MapSpec{Type: ebpf.PerfEventArray, KeySize: 4, ValueSize: 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	run.maps["outer"] = outer
	inst, err := newEngine(t, Options{}).Instantiate(context.Background(), "igguest", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	for _, h := range []func() error{inst.Init, inst.PreStart, inst.Start} {
		if err := h(); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{"mom.update": "0", "mom.lookup": "0,true", "mom.release": "0"} {
		if got := run.log.result(k); got != v {
			t.Errorf("%s = %q, want %q\n%s", k, got, v, run.log.dump())
		}
	}
	var inner *ebpf.Map
	if err := outer.Lookup(uint64(4242), &inner); err != nil {
		t.Fatalf("the inner map is not in the map of maps: %v", err)
	}
	defer inner.Close()
	if inner.Type() != ebpf.PerfEventArray {
		t.Errorf("inner map of type %s, want the guest's perf event array", inner.Type())
	}
}

// TestIGStylePerfRead: a guest other than Gadgetry's SDK reads a perf record as from IG's
// host, the record alone at the start of its buffer (IG's traceloop passes a buffer of its
// record's size); Gadgetry's SDK gets the length first (TestFullGuest).
func TestIGStylePerfRead(t *testing.T) {
	requireBPF(t)
	mod := guest(t, "igguest")
	run := newExecRun(t, map[string]string{"legacy": "false", "mapofmaps": "false", "perf": "true"})
	perfArr, perfProg := perfWriter(t)
	run.maps["events_perf"] = perfArr
	inst, err := newEngine(t, Options{}).Instantiate(context.Background(), "igguest", mod, "", run.env())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	for _, h := range []func() error{inst.Init, inst.PreStart, inst.Start} {
		if err := h(); err != nil {
			t.Fatal(err)
		}
	}
	if ret, err := perfProg.Run(&ebpf.RunOptions{Data: make([]byte, 14)}); err != nil || ret != 0 {
		t.Fatalf("running the perf writer: %d %v", ret, err)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := run.log.result("perf.raw"); got != "0,hello perf" {
		t.Errorf("perf.raw = %q, want %q\n%s", got, "0,hello perf", run.log.dump())
	}
}
