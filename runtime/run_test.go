package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/filter"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/runtime/output"
)

const prefix = "gtest"

const execYAML = `name: test_exec
datasources:
  exec:
    fields:
      filename:
        annotations:
          columns.width: "40"
`

// capture subscribes an output writer with a filter to the exec data source.
type capture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	hits int
}

func (c *capture) hooks(t *testing.T, mode output.Mode, fields, expr string) runtime.Hooks {
	return runtime.Hooks{Name: "test-output", Init: func(r *runtime.Run) error {
		ds := r.DataSource("exec")
		fm := format.New()
		sel, err := output.Select(ds, mode, fields)
		if err != nil {
			return err
		}
		var flt *filter.Filter
		if expr != "" { // filter.Parse refuses an empty expression
			if flt, err = filter.Parse(ds, expr, fm); err != nil {
				return err
			}
		}
		w := output.New(&c.buf, mode, sel, fm)
		ds.Subscribe(100, func(_ *datasource.DataSource, d *datasource.Data) error {
			if flt != nil && !flt.Match(d) {
				return nil
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.hits++
			if err := w.Write(d); err != nil {
				return err
			}
			return w.Flush()
		})
		return nil
	}}
}

func (c *capture) wait(t *testing.T, run *runtime.Run, n int, poke func()) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang guard: poke until the events come
	for time.Now().Before(deadline) {
		poke()
		time.Sleep(100 * time.Millisecond)
		c.mu.Lock()
		hits := c.hits
		c.mu.Unlock()
		if hits >= n {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hits < n {
		t.Fatalf("saw %d of %d events in a minute; output so far:\n%s", c.hits, n, c.buf.String())
	}
	return c.buf.String()
}

func startExec(t *testing.T, yaml string, opts runtime.RunOptions) (*runtime.Runtime, *runtime.Run) {
	t.Helper()
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "exec")
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("test_exec", obj, yaml))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rt, run
}

func runBin(t *testing.T, path string) int {
	cmd := exec.Command(path)
	if err := cmd.Run(); err != nil {
		t.Fatalf("running %s: %v", path, err)
	}
	return cmd.Process.Pid
}

func TestExecEventJSON(t *testing.T) {
	before := gadgettest.Objects(t, prefix)
	bin := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(bin)
	var c capture
	var pids []int
	_, run := startExec(t, execYAML, runtime.RunOptions{
		Params: map[string]string{"marker": "2"},
		Hooks:  []runtime.Hooks{c.hooks(t, output.JSON, "", "proc.comm=="+comm)},
	})
	out := c.wait(t, run, 1, func() { pids = append(pids, runBin(t, bin)) })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)

	line, _, _ := strings.Cut(out, "\n")
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("bad JSON %q: %v", line, err)
	}
	proc := ev["proc"].(map[string]any)
	if proc["comm"] != comm {
		t.Errorf("proc.comm = %v, want %s", proc["comm"], comm)
	}
	pid := int(proc["pid"].(float64))
	found := false
	for _, p := range pids {
		found = found || p == pid
	}
	if !found {
		t.Errorf("proc.pid = %d, want one of %v", pid, pids)
	}
	parent := proc["parent"].(map[string]any)
	if int(parent["pid"].(float64)) != os.Getpid() {
		t.Errorf("proc.parent.pid = %v, want %d", parent["pid"], os.Getpid())
	}
	if ev["filename"] != bin {
		t.Errorf("filename = %v, want %s", ev["filename"], bin)
	}
	if ev["error"] != "ENOENT" { // marker=2 → error_raw=2 → formatted sibling
		t.Errorf("error = %v, want ENOENT (param marker=2)", ev["error"])
	}
	if ev["kind"] != "EXEC_KIND_PLAIN" || ev["root"] != true {
		t.Errorf("kind/root = %v/%v", ev["kind"], ev["root"])
	}
	if _, ok := ev["__secret"]; ok {
		t.Error("hidden field __secret shown")
	}
	if ev["error_raw"] != 2.0 { // as Inspektor Gadget's JSON: the number beside its name
		t.Errorf("error_raw = %v, want 2 beside error", ev["error_raw"])
	}
	if ts, err := time.Parse(time.RFC3339Nano, ev["timestamp"].(string)); err != nil || time.Since(ts).Abs() > time.Minute {
		t.Errorf("timestamp %v: %v", ev["timestamp"], err)
	}
	if p, ok := ev["ports"].([]any); !ok || len(p) != 2 || p[0] != 80.0 {
		t.Errorf("ports = %v", ev["ports"])
	}
	s := run.Summary()
	if s.DataSources["exec"] == nil || s.DataSources["exec"].Events == 0 {
		t.Errorf("summary: %+v", s)
	}
}

func TestExecEventColumnsAndKernelFilter(t *testing.T) {
	before := gadgettest.Objects(t, prefix)
	bin := gadgettest.UniqueExecutable(t)
	other := gadgettest.UniqueExecutable(t)
	comm := filepath.Base(bin)
	var c capture
	// In-kernel comm filter: only bin's execs reach user space at all (no user filter here).
	_, run := startExec(t, execYAML, runtime.RunOptions{
		Params: map[string]string{"comm": comm},
		Hooks:  []runtime.Hooks{c.hooks(t, output.Columns, "proc.comm,proc.pid,uid,filename", "")},
	})
	var pid int
	out := c.wait(t, run, 1, func() { runBin(t, other); pid = runBin(t, bin) })
	run.Stop()
	gadgettest.CheckClean(t, prefix, before)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "PROC.COMM PROC.PID UID FILENAME" {
		t.Errorf("header %q", lines[0])
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != comm || f[2] != "root" || f[3] != bin {
			t.Errorf("line %q: want %s <pid> root %s", l, comm, bin)
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			t.Errorf("pid column %q", f[1])
		}
	}
	_ = pid
}

// TestTimeoutStopsAndCleans: a run with a timeout ends by itself and leaves the kernel clean.
// Its Stop hook waits until the test has seen the run's objects, however slow the machine.
func TestTimeoutStopsAndCleans(t *testing.T) {
	before := gadgettest.Objects(t, prefix)
	seen := make(chan struct{})
	_, run := startExec(t, execYAML, runtime.RunOptions{Timeout: 200 * time.Millisecond,
		Hooks: []runtime.Hooks{{Name: "gate", Stop: func(*runtime.Run) error { <-seen; return nil }}}})
	if len(gadgettest.Objects(t, prefix)) == len(before) {
		t.Error("no gtest objects while running: the leak check would prove nothing")
	}
	close(seen)
	if err := run.Wait(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)
}

func TestContextCancelCleans(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("test_exec", gadgettest.Compile(t, "exec"), execYAML))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := rt.Start(ctx, g, runtime.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := run.Wait(); err != nil {
		t.Fatal(err)
	}
	gadgettest.CheckClean(t, prefix, before)
}

// TestLostRecordsAreReported: the lost-record counter (written here by the test, as the
// kernel side would on a full ring) is reported while running and counted in the summary.
func TestLostRecordsAreReported(t *testing.T) {
	before := gadgettest.Objects(t, prefix)
	var mu sync.Mutex
	var reported uint64
	_, run := startExec(t, execYAML, runtime.RunOptions{
		Params: map[string]string{"comm": "no-such-comm"},
		Hooks: []runtime.Hooks{{Name: "fake-loss", Start: func(r *runtime.Run) error {
			m := r.Map("gtest_events_lost_samples")
			if m == nil {
				return nil
			}
			n, err := ebpfPossibleCPUs()
			if err != nil {
				return err
			}
			per := make([]uint64, n)
			per[0] = 3
			return m.Put(uint32(0), per)
		}}},
		OnLost: func(ds string, newly, total uint64) {
			mu.Lock()
			reported += newly
			mu.Unlock()
		},
	})
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if reported != 3 {
		t.Errorf("OnLost reported %d lost records, want 3", reported)
	}
	if got := run.Summary().DataSources["exec"].Lost; got != 3 {
		t.Errorf("summary lost = %d, want 3", got)
	}
	gadgettest.CheckClean(t, prefix, before)
}
