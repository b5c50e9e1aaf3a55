package runtime_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// selfComm is the test process's comm (what the kernel shows for it).
func selfComm(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func selfMntns(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/mnt", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// field returns a data source's field, failing the test when it is missing.
func field(t *testing.T, ds *datasource.DataSource, name string) *datasource.Field {
	t.Helper()
	f := ds.Field(name)
	if f == nil {
		var names []string
		for _, f := range ds.Fields() {
			names = append(names, f.Name)
		}
		t.Fatalf("data source %s has no field %s (fields: %s)", ds.Name, name, strings.Join(names, ", "))
	}
	return f
}

// TestIterSnapshot: a task iterator's snapshot is one array holding this process with its
// exact pid, parent, comm and mount namespace; the run then ends by itself and leaves nothing.
func TestIterSnapshot(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("snap", gadgettest.Compile(t, "snapshot_task"), ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Iters) != 1 || g.Iters[0].DataSource != "tasks" || g.Iters[0].Program != "gtest_iter_task" {
		t.Fatalf("iterators: %+v", g.Iters)
	}
	var arrays [][]*datasource.Data
	var ds *datasource.DataSource
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{{Name: "test", Init: func(r *runtime.Run) error {
		ds = r.DataSource("tasks")
		if ds == nil || ds.Type != datasource.TypeArray {
			t.Errorf("data source tasks: %+v", ds)
			return nil
		}
		ds.SubscribeArray(0, func(_ *datasource.DataSource, arr []*datasource.Data) error {
			arrays = append(arrays, arr)
			return nil
		})
		return nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.Done():
	case <-time.After(time.Minute):
		run.Stop()
		t.Fatal("a snapshot-only run did not end by itself in a minute (hang guard)")
	}
	if err := run.Wait(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)
	if len(arrays) != 1 {
		t.Fatalf("got %d arrays, want one snapshot", len(arrays))
	}
	pid, ppid, comm := field(t, ds, "pid"), field(t, ds, "ppid"), field(t, ds, "comm")
	mntns, threads := field(t, ds, "mntns_id"), field(t, ds, "threads")
	if mntns.Type != "gadget_mntns_id" || pid.Type != "gadget_pid" {
		t.Errorf("field types: mntns_id %q, pid %q", mntns.Type, pid.Type)
	}
	var self []*datasource.Data
	for _, d := range arrays[0] {
		if int(pid.Uint(d)) == os.Getpid() {
			self = append(self, d)
		}
	}
	if len(self) != 1 {
		t.Fatalf("the snapshot of %d tasks has %d records of pid %d, want 1", len(arrays[0]), len(self), os.Getpid())
	}
	d := self[0]
	if got, want := comm.String(d), selfComm(t); got != want {
		t.Errorf("comm = %q, want %q", got, want)
	}
	if got := int(ppid.Uint(d)); got != os.Getppid() {
		t.Errorf("ppid = %d, want %d", got, os.Getppid())
	}
	if got, want := mntns.Uint(d), selfMntns(t); got != want {
		t.Errorf("mntns_id = %d, want %d", got, want)
	}
	if threads.Uint(d) == 0 {
		t.Error("threads = 0")
	}
	if got := run.Summary().DataSources["tasks"]; got == nil || got.Events != uint64(len(arrays[0])) {
		t.Errorf("summary: %+v, want %d events", got, len(arrays[0]))
	}
}

// TestIterSnapshotWithTracer: a gadget with an iterator and a tracer takes its snapshot and
// keeps streaming events until stopped.
func TestIterSnapshotWithTracer(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("snaptrace", gadgettest.Compile(t, "snapshot_task", "-DWITH_TRACER"), ""))
	if err != nil {
		t.Fatal(err)
	}
	snaps := make(chan int, 4)
	var mu sync.Mutex
	execs := map[int]bool{}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{{Name: "test", Init: func(r *runtime.Run) error {
		r.DataSource("tasks").SubscribeArray(0, func(_ *datasource.DataSource, arr []*datasource.Data) error {
			snaps <- len(arr)
			return nil
		})
		ev := r.DataSource("execs")
		pid := field(t, ev, "pid")
		ev.Subscribe(0, func(_ *datasource.DataSource, d *datasource.Data) error {
			mu.Lock()
			execs[int(pid.Uint(d))] = true
			mu.Unlock()
			return nil
		})
		return nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()
	select {
	case n := <-snaps:
		if n == 0 {
			t.Error("empty snapshot")
		}
	case <-time.After(time.Minute):
		t.Fatal("no snapshot in a minute (hang guard)")
	}
	bin := gadgettest.UniqueExecutable(t)
	deadline := time.Now().Add(time.Minute)
	for seen := false; !seen; {
		if time.Now().After(deadline) {
			t.Fatal("no exec event in a minute of execs after the snapshot: the run stopped streaming")
		}
		p := runBin(t, bin)
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		seen = execs[p]
		mu.Unlock()
	}
	select {
	case <-run.Done():
		t.Fatal("the run ended by itself although it has a tracer")
	default:
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 0 {
		t.Errorf("%d more snapshots: want exactly one", len(snaps))
	}
	gadgettest.CheckClean(t, prefix, before)
}

// TestIterSnapshotBadSize: an iterator writing records of the wrong size fails the run with an
// error that says so, and leaves the kernel clean.
func TestIterSnapshotBadSize(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("badsnap", gadgettest.Compile(t, "snapshot_task", "-DBAD_SIZE"), ""))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, run.Wait(), "gadget badsnap", "iterator tasks", "program gtest_iter_task", "not a whole number of 40-byte records", "bpf_seq_write")
	gadgettest.CheckClean(t, prefix, before)
}

// dumps collects the arrays of the calls data source: for each dump, the getppid calls of this
// process (0 when it has no entry). While held, each dump waits in its subscriber (on the run's
// one goroutine, so no other dump can start) until the test calls release.
type dumps struct {
	mu     sync.Mutex
	calls  []uint64
	ch     chan uint64
	errs   []string
	held   atomic.Bool
	resume chan struct{}
}

// release lets the dump the test received last (next) return.
func (c *dumps) release() { c.resume <- struct{}{} }

// unhold stops holding dumps and lets a held one return.
func (c *dumps) unhold() {
	c.held.Store(false)
	select {
	case c.resume <- struct{}{}:
	default:
	}
}

func (c *dumps) hooks(t *testing.T) runtime.Hooks {
	c.ch = make(chan uint64, 1000)
	c.resume = make(chan struct{}, 1)
	return runtime.Hooks{Name: "test", Init: func(r *runtime.Run) error {
		ds := r.DataSource("calls")
		pid, comm, calls := field(t, ds, "pid"), field(t, ds, "comm"), field(t, ds, "calls")
		field(t, ds, "last") // formatted sibling of last_raw
		want := selfComm(t)
		ds.SubscribeArray(0, func(_ *datasource.DataSource, arr []*datasource.Data) error {
			var n uint64
			seen := 0
			for _, d := range arr {
				if int(pid.Uint(d)) != os.Getpid() {
					continue
				}
				seen++
				n += calls.Uint(d)
				if got := comm.String(d); got != want {
					c.mu.Lock()
					c.errs = append(c.errs, "comm "+got)
					c.mu.Unlock()
				}
			}
			if seen > 1 {
				c.mu.Lock()
				c.errs = append(c.errs, "several entries of this process in one dump")
				c.mu.Unlock()
			}
			c.mu.Lock()
			c.calls = append(c.calls, n)
			c.mu.Unlock()
			c.ch <- n
			if c.held.Load() {
				<-c.resume
			}
			return nil
		})
		return nil
	}}
}

// next waits for the next dump and returns this process's calls in it.
func (c *dumps) next(t *testing.T) uint64 {
	t.Helper()
	select {
	case n := <-c.ch:
		return n
	case <-time.After(time.Minute):
		t.Fatal("no map dump in a minute (hang guard)")
	}
	return 0
}

func getppid(n int) {
	for i := 0; i < n; i++ {
		syscall.Getppid()
	}
}

// TestMapIterDumps: the hash map a tracepoint fills is dumped every interval and emptied by
// each dump (batch lookup-and-delete, and key by key where batches are missing): each burst of
// calls, made while a dump is held in its subscriber (after its map was read, before another
// dump can start), shows up whole in the next dump and only there; the calls made last are in
// the next dump, periodic or the one at stop (TestMapIterIntervalZero checks that one alone).
func TestMapIterDumps(t *testing.T) {
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "mapiter")
	for _, mode := range []string{"batch", "key by key"} {
		t.Run(mode, func(t *testing.T) {
			before := gadgettest.Objects(t, prefix)
			rt := runtime.New(runtime.Options{})
			g, err := rt.Prepare(context.Background(), gadgettest.Image("mapiter", obj, ""))
			if err != nil {
				t.Fatal(err)
			}
			if p := g.Param(runtime.MapFetchIntervalParam); p == nil || p.Default != "1s" || p.TypeName() != "duration" {
				t.Fatalf("map-fetch-interval param: %+v", p)
			}
			var c dumps
			hooks := []runtime.Hooks{c.hooks(t)}
			c.held.Store(true)
			if mode != "batch" {
				hooks = append(hooks, runtime.DumpFallbackHooks())
			}
			run, err := rt.Start(context.Background(), g, runtime.RunOptions{
				Params: map[string]string{runtime.MapFetchIntervalParam: "300ms"},
				Hooks:  hooks,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				c.unhold()
				run.Stop()
			}()
			var total uint64
			c.next(t)
			for _, burst := range []int{7, 5, 11} {
				getppid(burst)
				total += uint64(burst)
				c.release()
				if got := c.next(t); got != uint64(burst) {
					t.Errorf("dump after a burst of %d calls holds %d (all dumps so far: %v)", burst, got, c.calls)
				}
			}
			// An idle interval: the map was emptied, nothing of this process is left.
			c.release()
			if got := c.next(t); got != 0 {
				t.Errorf("dump after an idle interval holds %d calls, want 0", got)
			}
			getppid(3)
			total += 3
			c.unhold()
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			var after []uint64
			for len(c.ch) > 0 {
				after = append(after, <-c.ch)
			}
			if slices.Index(after, 3) < 0 || slices.ContainsFunc(after, func(n uint64) bool { return n != 0 && n != 3 }) {
				t.Errorf("dumps after the last calls hold %v, want one with all 3 calls (dumps: %v)", after, c.calls)
			}
			var sum uint64
			for _, n := range c.calls {
				sum += n
			}
			if sum != total {
				t.Errorf("dumps hold %d calls in all, want %d (dumps: %v)", sum, total, c.calls)
			}
			if len(c.errs) > 0 {
				t.Errorf("bad records: %v", c.errs)
			}
			gadgettest.CheckClean(t, prefix, before)
		})
	}
}

// TestMapIterIntervalZero: --map-fetch-interval 0 dumps only when the run stops.
func TestMapIterIntervalZero(t *testing.T) {
	gadgettest.RequireRoot(t)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("mapiter", gadgettest.Compile(t, "mapiter"), ""))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, g.Validate(runtime.MapFetchIntervalParam, "soon"), "--map-fetch-interval", "not a duration")
	wantErr(t, g.Validate(runtime.MapFetchIntervalParam, "1ms"), "at least 10ms")
	if err := g.Validate(runtime.MapFetchIntervalParam, "1.5"); err != nil {
		t.Errorf("seconds refused: %v", err)
	}
	var c dumps
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{
		Params: map[string]string{runtime.MapFetchIntervalParam: "0"},
		Hooks:  []runtime.Hooks{c.hooks(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	getppid(4)
	time.Sleep(300 * time.Millisecond)
	if len(c.ch) != 0 {
		t.Error("dumped before the run stopped")
	}
	run.Stop()
	if len(c.calls) != 1 || c.calls[0] != 4 {
		t.Errorf("dumps %v, want one of 4 calls at stop", c.calls)
	}
}

func TestSnapshotMarkerErrors(t *testing.T) {
	for _, tc := range []struct {
		flag  string
		parts []string
	}{
		{"ITER_NO_PROG", []string{"gadget bad", "iterator snap", `program "gtest_nosuch"`, "gtest_tp"}},
		{"ITER_NOT_ITER", []string{"gadget bad", "iterator snap", "program gtest_tp", "not an iterator", "iter/<target>"}},
		{"MAPITER_NO_MAP", []string{"gadget bad", "map iterator dump", `map "gtest_nomap"`}},
		{"MAPITER_ARRAY", []string{"gadget bad", "map iterator dump", "map gtest_array is of type Array", "only hash maps"}},
		{"ELEM_NO_TARGET", []string{"gadget bad", "program gtest_elems (iter/bpf_map_elem)", "must name", "GADGET_ITER_TARGET_MAP(gtest_elems, <map>)"}},
		{"ELEM_NO_MAP", []string{"gadget bad", "GADGET_ITER_TARGET_MAP(gtest_elems, gtest_nomap)", "no map gtest_nomap"}},
		{"ELEM_NOT_ITER", []string{"gadget bad", "GADGET_ITER_TARGET_MAP(gtest_tp, gtest_array)", "section tracepoint/sched/sched_process_exec", "not iter/bpf_map_elem"}},
		{"ELEM_NO_PROG", []string{"gadget bad", "GADGET_ITER_TARGET_MAP(gtest_nosuch, gtest_array)", "names no program", "gtest_tp"}},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			wantErr(t, prepareErr(t, "bad", gadgettest.Compile(t, "bad_markers", "-D"+tc.flag), ""), tc.parts...)
		})
	}
}
