package runtime_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime"
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
	time.Sleep(200 * time.Millisecond) // an extra event would show by now
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
// sample on the same CPU (hence the trickle of execs after the burst).
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
			run, err := rt.Start(context.Background(), g, runtime.RunOptions{
				Params:          map[string]string{"comm": filepath.Base(bin)},
				PerfBufferPages: 1,
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
			const workers, each, trickle = 4, 75, 20
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range each {
						runBin(t, bin)
					}
				})
			}
			wg.Wait()
			time.Sleep(200 * time.Millisecond)
			for range trickle {
				runBin(t, bin)
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			gadgettest.CheckClean(t, prefix, before)
			s := run.Summary().DataSources["exec"]
			total := uint64(workers*each + trickle)
			t.Logf("%d execs: %d events, %d lost", total, s.Events, s.Lost)
			if s.Lost == 0 {
				t.Fatalf("summary %+v: no record lost in a burst of %d execs into one-page buffers", s, total)
			}
			mu.Lock()
			if reported != s.Lost {
				t.Errorf("OnLost reported %d lost records, summary %d", reported, s.Lost)
			}
			mu.Unlock()
			if tc.exact && s.Events+s.Lost != total {
				t.Errorf("%d events + %d lost, want %d execs", s.Events, s.Lost, total)
			}
			if !tc.exact && s.Events+s.Lost > total {
				t.Errorf("%d events + %d lost, more than %d execs", s.Events, s.Lost, total)
			}
		})
	}
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
