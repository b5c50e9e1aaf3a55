package runtime_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// TestPerfTracerPrepare: a gadget_tracer_ marker naming a perf event array prepares as a
// perf-array tracer (it used to be refused).
func TestPerfTracerPrepare(t *testing.T) {
	obj := gadgettest.Compile(t, "bad_markers", "-DPERF_TRACER")
	g, err := runtime.New(runtime.Options{}).Prepare(context.Background(), gadgettest.Image("bad", obj, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Tracers) != 1 || g.Tracers[0].Map != "gtest_perf" || !g.Tracers[0].PerfArray {
		t.Fatalf("tracers %+v, want one perf-array tracer of gtest_perf", g.Tracers)
	}
}

func preparePerfExec(t *testing.T, flags ...string) (*runtime.Runtime, *runtime.Gadget) {
	t.Helper()
	gadgettest.RequireRoot(t)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("test_perf_exec", gadgettest.Compile(t, "perf_exec", flags...), ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Tracers) != 1 || !g.Tracers[0].PerfArray {
		t.Fatalf("tracers %+v, want one perf-array tracer", g.Tracers)
	}
	return rt, g
}

// TestPerfExecEvents: N execs of a uniquely named binary give exactly N events, with the
// pids and comm of those processes, read from a perf event array. Other processes exec too:
// the filter is in user space, so the runtime reads their records as well.
func TestPerfExecEvents(t *testing.T) {
	const n = 12
	before := gadgettest.Objects(t, prefix)
	rt, g := preparePerfExec(t)
	bin := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(bin)
	var c capture
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{
		Hooks: []runtime.Hooks{c.hooks(t, output.JSON, "proc.comm,proc.pid", "proc.comm=="+comm)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for range n {
		pids = append(pids, runBin(t, bin))
	}
	c.wait(t, run, n, func() {})
	// Stop reads every record written before it detaches: an extra event would be in the output.
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)

	c.mu.Lock()
	out := c.buf.String()
	c.mu.Unlock()
	var got []int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Proc struct {
				Comm string
				Pid  int
			}
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bad JSON %q: %v", line, err)
		}
		if ev.Proc.Comm != comm {
			t.Errorf("event %s: comm %q, want %q", line, ev.Proc.Comm, comm)
		}
		got = append(got, ev.Proc.Pid)
	}
	slices.Sort(got)
	slices.Sort(pids)
	if !slices.Equal(got, pids) {
		t.Errorf("events of pids %v, want exactly %v", got, pids)
	}
	s := run.Summary().DataSources["exec"]
	if s == nil || s.Events < n || s.Lost != 0 {
		t.Errorf("summary %+v, want ≥ %d events and none lost", s, n)
	}
}

// TestPerfOverrunIsCounted: a burst of execs into one-page per-CPU buffers overruns them, and
// every record is either read or counted as lost, reported through OnLost and the summary.
// With `<map>_lost_samples` (the program counts its failed writes) the accounting is exact;
// without it the count comes from the kernel's lost-samples records, which arrive with a later
// sample on the same CPU.
//
// Nothing depends on how fast the reader is: the burst runs while the run's reader is held in a
// subscriber (one goroutine reads every buffer of a run), so the buffers surely overflow, and
// every exec runs on one CPU, so the execs after the burst write to the buffer that lost
// records; they go on until a loss is reported.
func TestPerfOverrunIsCounted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		exact bool
	}{
		{"lost map", nil, true},
		{"kernel records", []string{"-DNO_LOST_MAP"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gadgettest.Objects(t, prefix)
			rt, g := preparePerfExec(t, tc.flags...)
			if tc.exact != (g.Tracers[0].LostMap != "") {
				t.Fatalf("tracer %+v: lost map %q", g.Tracers[0], g.Tracers[0].LostMap)
			}
			bin := gadgettest.UniqueExecutable(t)
			var mu sync.Mutex
			var reported uint64
			held, release := make(chan struct{}), make(chan struct{})
			hold := runtime.Hooks{Name: "hold", Init: func(r *runtime.Run) error {
				var once sync.Once
				r.DataSource("exec").Subscribe(0, func(*datasource.DataSource, *datasource.Data) error {
					once.Do(func() { close(held); <-release })
					return nil
				})
				return nil
			}}
			run, err := rt.Start(context.Background(), g, runtime.RunOptions{
				Params:          map[string]string{"comm": filepath.Base(bin)},
				PerfBufferPages: 1,
				Hooks:           []runtime.Hooks{hold},
				OnLost: func(ds string, newly, total uint64) {
					mu.Lock()
					defer mu.Unlock()
					reported += newly
					if ds != "exec" || total != reported {
						t.Errorf("OnLost(%s, %d, %d) after %d reported", ds, newly, total, reported-newly)
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			cpu := firstCPU(t)
			total := 0
			execs := func(n int) {
				onCPU(t, cpu, func() {
					for range n {
						if err := exec.Command(bin).Run(); err != nil {
							t.Errorf("running %s: %v", bin, err)
							return
						}
					}
				})
				total += n
			}
			execs(1)
			select {
			case <-held:
			case <-time.After(time.Minute):
				run.Stop()
				t.Fatal("no event of the first exec in a minute (hang guard)")
			}
			execs(300) // a record is 1.5 KB: a one-page buffer holds two
			close(release)
			guard := time.After(time.Minute)
			for lost := uint64(0); lost == 0; {
				execs(1)
				select {
				case <-guard:
					run.Stop()
					t.Fatalf("no loss reported a minute after a burst of %d execs into a held one-page buffer", total)
				case <-time.After(20 * time.Millisecond):
				}
				mu.Lock()
				lost = reported
				mu.Unlock()
			}
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			gadgettest.CheckClean(t, prefix, before)
			s := run.Summary().DataSources["exec"]
			t.Logf("%d execs: %d events, %d lost", total, s.Events, s.Lost)
			mu.Lock()
			if reported != s.Lost {
				t.Errorf("OnLost reported %d lost records, summary %d", reported, s.Lost)
			}
			mu.Unlock()
			if tc.exact && s.Events+s.Lost != uint64(total) {
				t.Errorf("%d events + %d lost, want %d execs", s.Events, s.Lost, total)
			}
			if !tc.exact && s.Events+s.Lost > uint64(total) {
				t.Errorf("%d events + %d lost, more than %d execs", s.Events, s.Lost, total)
			}
		})
	}
}

// firstCPU returns the first CPU this process may run on.
func firstCPU(t *testing.T) int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	for cpu := range 1024 {
		if set.IsSet(cpu) {
			return cpu
		}
	}
	t.Fatal("no CPU in this process's affinity mask")
	return 0
}

// onCPU runs fn on a thread bound to cpu, so that the processes fn starts run there too (they
// inherit the thread's affinity) and their exec events go to that CPU's buffer.
func onCPU(t *testing.T, cpu int, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread, with its affinity, ends with this goroutine.
		goruntime.LockOSThread()
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			t.Errorf("binding a thread to CPU %d: %v", cpu, err)
			return
		}
		fn()
	}()
	<-done
}

// TestPerfFailedStartCleans: a run that fails after its perf reader is open (a program cannot
// attach) leaves nothing in the kernel.
func TestPerfFailedStartCleans(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	yaml := "name: test_perf_exec\nprograms:\n  gtest_perf_exec:\n    attach_to: sched/gtest_no_such_tracepoint\n"
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("test_perf_exec", gadgettest.Compile(t, "perf_exec"), yaml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Start(context.Background(), g, runtime.RunOptions{}); err == nil {
		t.Fatal("attaching to a tracepoint that does not exist succeeded")
	}
	gadgettest.CheckClean(t, prefix, before)
}
